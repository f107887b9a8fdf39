//! Placeholder markers: TODO, FIXME, XXX, HACK, `NotImplementedError`,
//! `todo!()`, `unimplemented!()`, `panic!("not implemented")`, `pass  # stub`
//! and Python functions whose body is a bare `pass`, each with file, line,
//! snippet and whether it sits in a comment, a string or code.

use serde::Serialize;

/// Where on its line a marker was found.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// In a comment.
    Comment,
    /// Inside a string literal.
    String,
    /// In code.
    Code,
}

/// One placeholder.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Placeholder {
    /// File, relative to the root.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// Which marker.
    pub kind: String,
    /// Comment, string or code.
    pub context: Context,
    /// The line, trimmed and cut to 160 characters.
    pub snippet: String,
}

const WORDS: [&str; 4] = ["TODO", "FIXME", "XXX", "HACK"];
const CODE: [&str; 4] = [
    "NotImplementedError",
    "todo!(",
    "unimplemented!(",
    "panic!(\"not implemented",
];

/// Every marker of [`WORDS`] and [`CODE`], found in one pass. Only asked
/// whether there is a match, so the match kind does not change an answer;
/// leftmost-first lets the automaton use its SIMD prefilter (the standard
/// kind has none), which made the inventory of the cargo registry faster.
fn markers() -> &'static aho_corasick::AhoCorasick {
    static MARKERS: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    MARKERS.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(WORDS.iter().chain(CODE.iter()))
            .expect("fixed markers build an automaton")
    })
}

/// The context of byte `at` of `line`, given the language's line-comment markers.
fn context_at(line: &str, at: usize, comment: &[&str]) -> Context {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < at && i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'"' || b == b'\'' && comment.contains(&"#") {
                    quote = Some(b);
                } else if comment.iter().any(|c| bytes[i..].starts_with(c.as_bytes())) {
                    return Context::Comment;
                }
            }
        }
        i += 1;
    }
    if quote.is_some() {
        Context::String
    } else {
        Context::Code
    }
}

fn is_word_at(line: &str, at: usize, word: &str) -> bool {
    let before = line[..at].chars().next_back();
    let after = line[at + word.len()..].chars().next();
    let w = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !w(before) && !w(after)
}

/// Whether line `i` of a Python file is in the body of an abstract method:
/// its `def` is decorated with `abstractmethod` (or `abstractproperty`, …),
/// or its class derives from `ABC`, uses `ABCMeta` or is a `Protocol`.
fn in_abstract_method(lines: &[&str], i: usize) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut limit = indent(lines[i]);
    let mut def_at = None;
    for j in (0..i).rev() {
        let t = lines[j].trim_start();
        if t.is_empty() || t.starts_with('#') || indent(lines[j]) >= limit {
            continue;
        }
        limit = indent(lines[j]);
        if def_at.is_none() {
            if !(t.starts_with("def ") || t.starts_with("async def ")) {
                return false;
            }
            def_at = Some(j);
            // Decorators sit right above the `def`, at its indentation.
            let decorated = lines[..j]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with('@'))
                .any(|d| d.contains("abstract"));
            if decorated {
                return true;
            }
        } else if t.starts_with("class ") {
            let head = t.split(':').next().unwrap_or("");
            return ["ABC", "ABCMeta", "Protocol"].iter().any(|b| {
                head.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == *b)
            });
        } else {
            return false;
        }
    }
    false
}

/// Every placeholder in one file's text.
pub fn scan(path: &str, text: &str, language: Option<&str>) -> Vec<Placeholder> {
    let comment: &[&str] = match language {
        Some(
            "Python" | "Shell" | "TOML" | "YAML" | "Ruby" | "R" | "Makefile" | "Dockerfile"
            | "CMake",
        ) => &["#"],
        Some("SQL" | "Lua") => &["--"],
        Some(_) => &["//", "/*", "*"],
        None => &[],
    };
    let snippet = |l: &str| l.trim().chars().take(160).collect::<String>();
    let mut out = Vec::new();
    let python = language == Some("Python");
    let markers = markers();
    // Most files hold no marker (none spans a line break): one automaton
    // pass over the whole text rules them out.
    if !(markers.is_match(text) || python && text.contains("pass")) {
        return out;
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // Most lines hold no marker: one automaton pass rules them out.
        if !(markers.is_match(line) || python && line.contains("pass")) {
            continue;
        }
        for word in WORDS {
            let mut from = 0;
            while let Some(p) = line[from..].find(word) {
                let at = from + p;
                if is_word_at(line, at, word) {
                    out.push(Placeholder {
                        path: path.to_owned(),
                        line: i + 1,
                        kind: word.to_owned(),
                        context: context_at(line, at, comment),
                        snippet: snippet(line),
                    });
                }
                from = at + word.len();
            }
        }
        for marker in CODE {
            if let Some(at) = line.find(marker) {
                // An abstract method's body is meant to raise: not a placeholder.
                if python && marker == "NotImplementedError" && in_abstract_method(&lines, i) {
                    continue;
                }
                out.push(Placeholder {
                    path: path.to_owned(),
                    line: i + 1,
                    kind: marker
                        .trim_end_matches('(')
                        .trim_end_matches("(\"not implemented")
                        .to_owned(),
                    context: context_at(line, at, comment),
                    snippet: snippet(line),
                });
            }
        }
        if python {
            let t = line.trim();
            if t.starts_with("pass") && t[4..].trim_start().starts_with('#') && t.contains("stub") {
                out.push(Placeholder {
                    path: path.to_owned(),
                    line: i + 1,
                    kind: "pass # stub".into(),
                    context: Context::Code,
                    snippet: snippet(line),
                });
            } else if t == "pass" {
                // A bare `pass` that is the whole body of a `def`.
                let prev = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty() && !l.trim().starts_with('#'));
                let next = lines
                    .get(i + 1..)
                    .and_then(|r| r.iter().find(|l| !l.trim().is_empty()));
                let indent = |l: &str| l.len() - l.trim_start().len();
                let ends_body = next.is_none_or(|n| indent(n) < indent(line));
                if prev.is_some_and(|p| {
                    p.trim_start().starts_with("def ") || p.trim_start().starts_with("async def ")
                }) && ends_body
                {
                    out.push(Placeholder {
                        path: path.to_owned(),
                        line: i + 1,
                        kind: "bare pass".into(),
                        context: Context::Code,
                        snippet: snippet(line),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_methods_may_raise_not_implemented() {
        let py = "import abc\nclass Base(abc.ABC):\n    def f(self):\n        raise NotImplementedError\n\nclass P(Protocol):\n    def g(self): ...\n    def h(self):\n        raise NotImplementedError()\n\nclass C:\n    @abc.abstractmethod\n    def i(self):\n        raise NotImplementedError\n\n    def j(self):\n        raise NotImplementedError\n\ndef k():\n    raise NotImplementedError\n";
        let found: Vec<usize> = scan("a.py", py, Some("Python"))
            .iter()
            .map(|p| p.line)
            .collect();
        assert_eq!(found, [17, 20]);
    }

    #[test]
    fn markers_with_their_context() {
        let rust = "fn a() { todo!() } // TODO: later\nlet s = \"FIXME in a string\";\nlet todos = 1; // not TODOS\n";
        let found = scan("a.rs", rust, Some("Rust"));
        let got: Vec<(usize, &str, Context)> = found
            .iter()
            .map(|p| (p.line, p.kind.as_str(), p.context))
            .collect();
        assert_eq!(
            got,
            [
                (1, "TODO", Context::Comment),
                (1, "todo!", Context::Code),
                (2, "FIXME", Context::String)
            ]
        );
        let found = scan("b.rs", "let a = \"→\"; // TODO → x\n", Some("Rust"));
        assert_eq!(found[0].context, Context::Comment);
        let py = "def f():\n    pass\n\ndef g():\n    x = 1\n    pass\n\ndef h():\n    raise NotImplementedError\n\ndef k():\n    pass  # stub\n";
        let found = scan("a.py", py, Some("Python"));
        let got: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.kind.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "bare pass"),
                (9, "NotImplementedError"),
                (12, "pass # stub")
            ]
        );
    }
}
