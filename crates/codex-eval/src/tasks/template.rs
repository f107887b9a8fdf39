//! The harness's prompt pieces: Jinja templates rendered with the document's
//! fields (strict about undefined names, trailing newlines kept, a
//! `regex_replace` filter), Python's `str()` of a value and
//! `ast.literal_eval` of a rendered list.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value as JValue};
use serde_json::Value;

use super::dataset::Doc;

/// The Jinja environment of task templates, one per task.
pub(crate) struct Templates {
    env: Environment<'static>,
    count: usize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("count", &self.count)
            .finish()
    }
}

/// `re.sub(pattern, repl, string, count)` with Python's `\1` and `\g<name>`
/// references in `repl`.
fn regex_replace(
    value: String,
    pattern: String,
    repl: String,
    count: Option<usize>,
) -> Result<String, minijinja::Error> {
    let re = regex::Regex::new(&pattern).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("regex_replace: {e}"),
        )
    })?;
    let rust_repl = python_replacement(&repl);
    Ok(re
        .replacen(&value, count.unwrap_or(0), rust_repl.as_str())
        .into_owned())
}

/// Python's replacement syntax in the regex crate's.
pub(crate) fn python_replacement(repl: &str) -> String {
    let mut out = String::with_capacity(repl.len());
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("regex_replace", regex_replace);
        Self { env, count: 0 }
    }

    /// Compiles a template; its name is returned for [`Templates::render`].
    pub(crate) fn add(&mut self, source: &str) -> Result<String, String> {
        let name = format!("t{}", self.count);
        self.count += 1;
        self.env
            .add_template_owned(name.clone(), source.to_owned())
            .map_err(|e| format!("not a valid Jinja template: {e}"))?;
        Ok(name)
    }

    /// Renders a compiled template with the document's fields as variables.
    pub(crate) fn render(&self, name: &str, doc: &Doc) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| e.to_string())?;
        t.render(JValue::from(Serde(doc))).map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            msg
        })
    }
}

/// Python's `str()` of a value from a document.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a value.
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            } else {
                n.to_string()
            }
        }
        Value::String(s) => {
            let quote = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(quote);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
            out
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `ast.literal_eval` of strings, numbers, booleans, `None`, lists and tuples.
pub(crate) fn literal_eval(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        text,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at offset {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err("unexpected end".into());
        };
        match c {
            b'[' | b'(' => {
                let close = if c == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(&x) if x == close => {
                            self.i += 1;
                            break;
                        }
                        _ => {
                            return Err(format!(
                                "expected `,` or `{}` at offset {}",
                                close as char, self.i
                            ));
                        }
                    }
                }
                Ok(Value::Array(items))
            }
            b'\'' | b'"' => self.string(c),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && !b",)] \t\n".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let word = &self.text[start..self.i];
                match word {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    w => {
                        if let Ok(n) = w.replace('_', "").parse::<i64>() {
                            Ok(Value::from(n))
                        } else if let Ok(f) = w.parse::<f64>() {
                            Ok(Value::from(f))
                        } else {
                            Err(format!("`{w}` is not a Python literal"))
                        }
                    }
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let Some(c) = rest.chars().next() else {
                return Err("unterminated string".into());
            };
            self.i += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Ok(Value::String(out)),
                '\\' => {
                    let Some(e) = self.text[self.i..].chars().next() else {
                        return Err("unterminated string".into());
                    };
                    self.i += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' | 'x' => {
                            let len = if e == 'u' { 4 } else { 2 };
                            let hex = self.text.get(self.i..self.i + len).ok_or("bad escape")?;
                            let code = u32::from_str_radix(hex, 16).map_err(|_| "bad escape")?;
                            out.push(char::from_u32(code).ok_or("bad escape")?);
                            self.i += len;
                        }
                        '\n' => {}
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_eval_reads_python_and_minijinja_lists() {
        assert_eq!(
            literal_eval("['a', \"b's\", 'c\\'d']").unwrap(),
            serde_json::json!(["a", "b's", "c'd"])
        );
        assert_eq!(
            literal_eval("(1, -2, 3.5, True, None)").unwrap(),
            serde_json::json!([1, -2, 3.5, true, null])
        );
        assert_eq!(literal_eval("3").unwrap(), serde_json::json!(3));
        assert!(literal_eval("[a]").is_err());
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(py_str(&serde_json::json!(3)), "3");
        assert_eq!(py_str(&serde_json::json!(3.0)), "3.0");
        assert_eq!(
            py_repr(&serde_json::json!(["it's", "b"])),
            "[\"it's\", 'b']"
        );
    }

    #[test]
    fn templates_render_strictly_with_regex_replace() {
        let mut t = Templates::new();
        let name = t
            .add("Q: {{question | regex_replace('(\\\\w+)!', '\\\\1?')}}\n")
            .unwrap();
        let doc: Doc = serde_json::from_str(r#"{"question": "why!"}"#).unwrap();
        assert_eq!(t.render(&name, &doc).unwrap(), "Q: why?\n");
        let missing = t.add("{{nope}}").unwrap();
        assert!(t.render(&missing, &doc).is_err());
    }
}
