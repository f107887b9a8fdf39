//! Escaping text from an audited tree for Markdown reports.

/// `text` as one line of inert Markdown, safe in a table cell or list item:
/// line breaks and other control characters shown as escapes (never a new
/// line, so never a new heading or row), `|` escaped for tables, HTML
/// special characters as entities (never a tag), and Markdown punctuation
/// backslash-escaped (never a link, image, emphasis or code span).
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn names_cannot_inject_structure() {
        assert_eq!(
            cell("x\n# Owned\n<img src=x onerror=alert(1)>|[a](b)"),
            "x\\n\\# Owned\\n&lt;img src=x onerror=alert(1)&gt;\\|\\[a\\](b)"
        );
        assert_eq!(cell("src/main.rs"), "src/main.rs");
        assert_eq!(cell("a\u{1b}[31mb"), "a\\u{1b}\\[31mb");
    }
}
