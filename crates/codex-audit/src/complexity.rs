//! Per-function structure and cyclomatic complexity, parsed with tree-sitter.
//!
//! Python follows radon's counting rules: a function starts at 1 and adds 1
//! for each `if`, `elif` and conditional expression, each `for`/`while` (and
//! 1 more for its `else`), each `except` of a `try` (and 1 for its `else`),
//! each boolean operator (`a and b or c` adds 2), each `for` and `if` clause of
//! a comprehension, each `assert`, and the cases of a `match` less one when a
//! case is irrefutable (`case _` or a bare capture). Nested functions are
//! separate entries and add nothing to their parent; decorators and default
//! values are not counted. Other languages are not analyzed yet.

use serde::Serialize;
use tree_sitter::{Node, Parser};

/// One function or method.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FunctionInfo {
    /// File, relative to the root.
    pub path: String,
    /// Name, qualified by its class for methods (`Class.method`).
    pub name: String,
    /// First line (1-based).
    pub line_start: usize,
    /// Last line (1-based).
    pub line_end: usize,
    /// Cyclomatic complexity.
    pub complexity: u32,
    /// Deepest nesting of blocks inside the body.
    pub nesting: u32,
    /// Parameters (including `self`).
    pub parameters: u32,
}

/// What parsing a file gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Functions found.
    Functions(Vec<FunctionInfo>),
    /// The language is not analyzed.
    Unsupported,
    /// The parser reported errors; nothing is recorded for the file.
    Failed(String),
}

fn decision_points(node: Node<'_>, source: &[u8]) -> u32 {
    let mut total = 0;
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        total += match child.kind() {
            // Nested definitions are entries of their own.
            "function_definition" | "class_definition" => continue,
            "decorated_definition" => continue,
            "if_statement"
            | "elif_clause"
            | "conditional_expression"
            | "boolean_operator"
            | "assert_statement" => 1,
            "for_statement" | "while_statement" => 1 + u32::from(has_child(child, "else_clause")),
            "try_statement" => {
                let mut c = child.walk();
                let handlers = child
                    .children(&mut c)
                    .filter(|n| matches!(n.kind(), "except_clause" | "except_group_clause"))
                    .count() as u32;
                handlers + u32::from(has_child(child, "else_clause"))
            }
            "for_in_clause" => 1,
            // A comprehension's `if`; a `case` guard does not count.
            "if_clause" => u32::from(node.kind() != "case_clause"),
            "match_statement" => {
                let cases = cases(child);
                let irrefutable = cases.iter().any(|c| is_irrefutable(*c, source));
                (cases.len() as u32).saturating_sub(u32::from(irrefutable))
            }
            _ => 0,
        };
        total += decision_points(child, source);
    }
    total
}

fn has_child(node: Node<'_>, kind: &str) -> bool {
    let mut c = node.walk();
    node.children(&mut c).any(|n| n.kind() == kind)
}

fn cases(match_statement: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![match_statement];
    while let Some(n) = stack.pop() {
        let mut c = n.walk();
        for child in n.children(&mut c) {
            if child.kind() == "case_clause" {
                out.push(child);
            } else if child.kind() == "block" {
                stack.push(child);
            }
        }
    }
    out
}

/// `case _:` or `case name:` (a capture without a guard).
fn is_irrefutable(case: Node<'_>, source: &[u8]) -> bool {
    if has_child(case, "if_clause") || has_child(case, "guard") {
        return false;
    }
    let mut c = case.walk();
    let patterns: Vec<Node<'_>> = case
        .children(&mut c)
        .filter(|n| n.kind() == "case_pattern")
        .collect();
    if patterns.len() != 1 {
        return false;
    }
    let text = patterns[0].utf8_text(source).unwrap_or("").trim();
    !text.is_empty()
        && text.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
        && !text.starts_with(|ch: char| ch.is_ascii_digit() || ch.is_uppercase())
        && !text.contains('.')
}

fn nesting(node: Node<'_>) -> u32 {
    let mut deepest = 0;
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if matches!(
            child.kind(),
            "function_definition" | "class_definition" | "decorated_definition"
        ) {
            continue;
        }
        let here = u32::from(matches!(
            child.kind(),
            "if_statement"
                | "for_statement"
                | "while_statement"
                | "try_statement"
                | "with_statement"
                | "match_statement"
        ));
        deepest = deepest.max(here + nesting(child));
    }
    deepest
}

fn collect(
    node: Node<'_>,
    source: &[u8],
    path: &str,
    class: Option<&str>,
    out: &mut Vec<FunctionInfo>,
) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        match child.kind() {
            "function_definition" => {
                let name = child
                    .child_by_field_name("name")
                    .and_then(|n| n.utf8_text(source).ok())
                    .unwrap_or("?");
                let body = child.child_by_field_name("body");
                let parameters = child.child_by_field_name("parameters").map_or(0, |p| {
                    let mut c = p.walk();
                    p.named_children(&mut c)
                        .filter(|n| {
                            n.kind() != "comment"
                                && n.kind() != "positional_separator"
                                && n.kind() != "keyword_separator"
                        })
                        .count() as u32
                });
                out.push(FunctionInfo {
                    path: path.to_owned(),
                    name: class.map_or_else(|| name.to_owned(), |c| format!("{c}.{name}")),
                    line_start: child.start_position().row + 1,
                    line_end: child.end_position().row + 1,
                    complexity: 1 + body.map_or(0, |b| decision_points(b, source)),
                    nesting: body.map_or(0, nesting),
                    parameters,
                });
                // Closures, reported on their own.
                if let Some(b) = body {
                    collect(b, source, path, None, out);
                }
            }
            "class_definition" => {
                let name = child
                    .child_by_field_name("name")
                    .and_then(|n| n.utf8_text(source).ok())
                    .unwrap_or("?");
                if let Some(b) = child.child_by_field_name("body") {
                    collect(b, source, path, Some(name), out);
                }
            }
            _ => collect(child, source, path, class, out),
        }
    }
}

/// Functions of one file, by language.
pub fn analyze(path: &str, language: Option<&str>, text: &str) -> Parsed {
    if language != Some("Python") {
        return Parsed::Unsupported;
    }
    let mut parser = Parser::new();
    if parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .is_err()
    {
        return Parsed::Failed("the Python grammar did not load".into());
    }
    let Some(tree) = parser.parse(text, None) else {
        return Parsed::Failed("the parser gave up".into());
    };
    let root = tree.root_node();
    if root.has_error() {
        return Parsed::Failed(format!(
            "syntax error near line {}",
            first_error(root).map_or(0, |n| n.start_position().row + 1)
        ));
    }
    let mut out = Vec::new();
    collect(root, text.as_bytes(), path, None, &mut out);
    out.sort_by_key(|f| (f.line_start, f.name.clone()));
    Parsed::Functions(out)
}

fn first_error(node: Node<'_>) -> Option<Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut c = node.walk();
    node.children(&mut c).find_map(first_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(src: &str) -> Vec<(String, u32)> {
        match analyze("x.py", Some("Python"), src) {
            Parsed::Functions(f) => f.into_iter().map(|f| (f.name, f.complexity)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn radon_rules_on_small_functions() {
        assert_eq!(cc("def f():\n    return 1\n"), [("f".to_owned(), 1)]);
        assert_eq!(
            cc(
                "def f(a, b):\n    if a and b or a:\n        return 1\n    elif b:\n        return 2\n    else:\n        return 3\n"
            ),
            [("f".to_owned(), 5)]
        );
        assert_eq!(
            cc(
                "def f(xs):\n    for x in xs:\n        pass\n    else:\n        pass\n    return [y for y in xs if y if y > 1]\n"
            ),
            [("f".to_owned(), 6)]
        );
        assert_eq!(
            cc(
                "def f():\n    try:\n        pass\n    except A:\n        pass\n    except B:\n        pass\n    else:\n        pass\n"
            ),
            [("f".to_owned(), 4)]
        );
        assert_eq!(
            cc(
                "class C:\n    def m(self):\n        def inner():\n            return 1 if x else 2\n        return inner\n"
            ),
            [("C.m".to_owned(), 1), ("inner".to_owned(), 2)]
        );
        assert!(matches!(
            analyze("x.py", Some("Python"), "def f(:\n"),
            Parsed::Failed(_)
        ));
    }
}
