//! Per-function structure and cyclomatic complexity: Python and Rust from
//! their tokens (`python.rs`, `rust.rs`: layout and delimiters make a syntax
//! tree unnecessary), JavaScript/TypeScript and Go parsed with tree-sitter.
//!
//! Every function starts at 1 and adds 1 per decision point.
//!
//! - **Python** follows radon's rules: each `if`, `elif` and conditional
//!   expression, each `for`/`while` (and 1 more for its `else`), each `except`
//!   of a `try` (and 1 for its `else`; an `except*` and the `else` of its
//!   `try` count nothing, as radon does not count them), each boolean operator (`a and b or c`
//!   adds 2), each `for` and `if` clause of a comprehension, each `assert`
//!   (whose contents count nothing, as radon never visits them), and the cases
//!   of a `match` less one when a case is `_` or a bare capture (in
//!   parentheses or not, guarded or not: radon's rule); a guard's `if` does
//!   not count, what it tests does. Nested functions are separate entries and add nothing to their
//!   parent; decorators and default values are not counted. Unlike radon,
//!   codex also reports the methods of classes nested in a class or a
//!   function, which radon drops.
//! - **Rust**: each `if`, `while`, `for` and `loop`, each `match` arm after the
//!   first, each `&&` and `||` (not the `&&` of a let chain, which is not an
//!   operator, nor anything inside a macro invocation, which is not parsed;
//!   a match guard's `if` is not counted, what it tests is). Closures count in
//!   their function; nested `fn` items are separate; methods are named
//!   `Type.method` (the impl's type as written, or the trait's name);
//!   parameters count attributes on them as tree-sitter-rust did, but not
//!   comments.
//! - **JavaScript and TypeScript**: each `if`, `for`, `for…in/of`, `while`,
//!   `do`, non-default `case`, `catch`, conditional expression, and each `&&`,
//!   `||` and `??`. Every function, method (`Class.method`) and arrow function
//!   is an entry of its own; an anonymous one takes the variable it is assigned
//!   to, else `<anonymous>`.
//! - **Go** (gocyclo's rules): each `if`, `for`, non-default `case` of a
//!   `switch`, type switch or `select`, and each `&&` and `||`. Function
//!   literals count in their function; methods are named `Receiver.method`.
//!
//! Against lizard 1.24 (`scripts/bench/audit_lizard_compare.py`, functions
//! both tools find, on real code) codex agrees on 82% of Rust functions
//! (serde_json, regex-syntax, clap_builder: 3,202), 87% of JavaScript (npm's
//! `lib/`: 832), 95% of TypeScript (ky: 1,524) and 89% of Go (cobra: 595).
//! The differences are rules, chosen on purpose:
//! - lizard reads tokens, not syntax: in Rust it takes a closure's empty
//!   parameter list `||` for a logical or, the `?` of `?Sized` or of error
//!   propagation for a condition, and loses its place after char literals
//!   (`'0' <= c && c <= '9'` counts nothing); it never counts `match` arms,
//!   which codex counts after the first (each is a branch, as a `case` is).
//! - JavaScript/TypeScript: lizard counts default parameter values as
//!   decisions and misses operators in expression-bodied arrow functions;
//!   codex counts neither defaults (as radon) and does count `??`.
//! - Go: codex follows gocyclo, counting a function literal's decisions in
//!   the function that holds it; lizard reports each literal as a function of
//!   its own, so functions holding closures differ by those decisions.
//!
//! Nesting is the deepest chain of control-flow blocks in a body (an `else if`
//! does not deepen it). A function that is itself another function's body
//! (`a => b => …`) counts only in its own entry.
//!
//! Tree-sitter trees are walked once with one cursor; node kinds are looked up
//! by id in a table built once per grammar, and each thread reuses one parser
//! per grammar.

use serde::Serialize;
use tree_sitter::{Node, Parser};

mod python;
mod rust;

/// Bumped when a rule changes what a file's functions are, so cached results
/// from earlier rules are not reused (2: Python read from tokens, radon's
/// `match` and `except*` rules, line continuations not counted as parameters;
/// 3: Rust read from tokens, comments in its parameter lists not counted,
/// files tree-sitter-rust could not parse analyzed).
pub(crate) const RULES: u32 = 3;

/// One function or method.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Js,
    Go,
}

impl Lang {
    /// Node kinds that start an entry of their own.
    fn is_function(self, kind: &str) -> bool {
        match self {
            Self::Js => matches!(
                kind,
                "function_declaration"
                    | "generator_function_declaration"
                    | "function_expression"
                    | "generator_function"
                    | "arrow_function"
                    | "method_definition"
            ),
            Self::Go => matches!(kind, "function_declaration" | "method_declaration"),
        }
    }

    /// Node kinds whose body names its methods (`Class.method`).
    fn is_container(self, kind: &str) -> bool {
        match self {
            Self::Js => matches!(
                kind,
                "class_declaration" | "class" | "abstract_class_declaration"
            ),
            Self::Go => false,
        }
    }

    /// Control-flow blocks, for nesting.
    fn is_block(self, kind: &str, parent: &str) -> bool {
        let chained_if = parent == "else_clause" || (self == Self::Go && parent == "if_statement");
        match self {
            Self::Js => {
                matches!(
                    kind,
                    "for_statement"
                        | "for_in_statement"
                        | "while_statement"
                        | "do_statement"
                        | "switch_statement"
                        | "try_statement"
                ) || (kind == "if_statement" && !chained_if)
            }
            Self::Go => {
                matches!(
                    kind,
                    "for_statement"
                        | "expression_switch_statement"
                        | "type_switch_statement"
                        | "select_statement"
                ) || (kind == "if_statement" && !chained_if)
            }
        }
    }
}

fn operator<'a>(node: Node<'_>, source: &'a [u8]) -> &'a str {
    node.child_by_field_name("operator")
        .and_then(|o| o.utf8_text(source).ok())
        .unwrap_or("")
}

/// Decision points of one node (not of its children).
fn points(lang: Lang, node: Node<'_>, kind: &str, source: &[u8]) -> u32 {
    match lang {
        Lang::Js => match kind {
            "if_statement" | "for_statement" | "for_in_statement" | "while_statement"
            | "do_statement" | "switch_case" | "catch_clause" | "ternary_expression" => 1,
            "binary_expression" => u32::from(matches!(operator(node, source), "&&" | "||" | "??")),
            _ => 0,
        },
        Lang::Go => match kind {
            "if_statement" | "for_statement" | "expression_case" | "type_case"
            | "communication_case" => 1,
            "binary_expression" => u32::from(matches!(operator(node, source), "&&" | "||")),
            _ => 0,
        },
    }
}

fn text_of<'a>(node: Option<Node<'_>>, source: &'a [u8]) -> Option<&'a str> {
    node.and_then(|n| n.utf8_text(source).ok())
}

/// The entry's name: its own, or the variable an anonymous function is assigned to.
fn function_name(lang: Lang, node: Node<'_>, parent: Node<'_>, source: &[u8]) -> String {
    if let Some(n) = text_of(node.child_by_field_name("name"), source) {
        if lang == Lang::Go && node.kind() == "method_declaration" {
            let receiver = node
                .child_by_field_name("receiver")
                .and_then(|r| text_of(Some(r), source))
                .map(|r| {
                    r.trim_matches(|c| c == '(' || c == ')')
                        .split_whitespace()
                        .last()
                        .unwrap_or("")
                        .trim_start_matches('*')
                        .to_owned()
                })
                .unwrap_or_default();
            return format!("{receiver}.{n}");
        }
        return n.to_owned();
    }
    match parent.kind() {
        "variable_declarator"
        | "assignment_expression"
        | "pair"
        | "public_field_definition"
        | "field_definition" => {
            let p = parent;
            text_of(
                p.child_by_field_name("name")
                    .or(p.child_by_field_name("left"))
                    .or(p.child_by_field_name("key")),
                source,
            )
            .unwrap_or("<anonymous>")
            .to_owned()
        }
        _ => "<anonymous>".to_owned(),
    }
}

fn parameter_count(lang: Lang, node: Node<'_>) -> u32 {
    let Some(params) = node
        .child_by_field_name("parameters")
        .or_else(|| node.child_by_field_name("parameter"))
    else {
        return 0;
    };
    if params.kind() == "identifier" {
        return 1;
    }
    let mut c = params.walk();
    params
        .named_children(&mut c)
        .filter(|n| {
            !matches!(
                n.kind(),
                "comment" | "positional_separator" | "keyword_separator"
            )
        })
        .map(|n| {
            if lang == Lang::Go && n.kind() == "parameter_declaration" {
                let mut c2 = n.walk();
                (n.children_by_field_name("name", &mut c2).count() as u32).max(1)
            } else {
                1
            }
        })
        .sum()
}

/// Kind names by kind id, looked up once per grammar (`Node::kind` measures
/// and validates the C string on every call).
struct Kinds(Vec<&'static str>);

impl Kinds {
    fn new(language: &tree_sitter::Language) -> Self {
        Self(
            (0..language.node_kind_count())
                .map(|id| language.node_kind_for_id(id as u16).unwrap_or(""))
                .collect(),
        )
    }

    fn of(&self, node: Node<'_>) -> &'static str {
        self.0
            .get(usize::from(node.kind_id()))
            .copied()
            .unwrap_or("")
    }
}

/// A thread's parser for one grammar, with the grammar's kind names.
type GrammarState = (Parser, std::rc::Rc<Kinds>);

/// What the walk knows about the node it is in.
struct Level<'t> {
    node: Node<'t>,
    kind: &'static str,
    /// The function whose body this node is counted in (an index into the
    /// entries), if any: none inside nested functions and classes, which are
    /// entries of their own or count nowhere.
    owner: Option<usize>,
    /// Control-flow blocks from the owner's body down to this node.
    depth: u32,
    /// The class, impl or trait that names methods found below.
    container: Option<std::rc::Rc<str>>,
    /// When this node is a function: its body's node id and its entry.
    body: Option<(usize, usize)>,
}

/// One walk over the tree with a single cursor: every function becomes an
/// entry, and each node adds its decision points and block depth to the
/// function whose body holds it.
fn collect(
    lang: Lang,
    kinds: &Kinds,
    root: Node<'_>,
    source: &[u8],
    path: &str,
    out: &mut Vec<FunctionInfo>,
) {
    let mut cursor = root.walk();
    let mut levels = vec![Level {
        node: root,
        kind: kinds.of(root),
        owner: None,
        depth: 0,
        container: None,
        body: None,
    }];
    if !cursor.goto_first_child() {
        return;
    }
    'nodes: loop {
        let node = cursor.node();
        let kind = kinds.of(node);
        let parent = levels.last().expect("the root stays on the stack");
        let level = if lang.is_function(kind) {
            // Functions are barriers for their parent's counts; a named one is
            // an entry whose body is counted when the walk reaches it.
            let body = if node.is_named() {
                let name = function_name(lang, node, parent.node, source);
                out.push(FunctionInfo {
                    path: path.to_owned(),
                    name: parent
                        .container
                        .as_deref()
                        .map_or_else(|| name.clone(), |c| format!("{c}.{name}")),
                    line_start: node.start_position().row + 1,
                    line_end: node.end_position().row + 1,
                    complexity: 1,
                    nesting: 0,
                    parameters: parameter_count(lang, node),
                });
                node.child_by_field_name("body")
                    .map(|b| (b.id(), out.len() - 1))
            } else {
                None
            };
            Level {
                node,
                kind,
                owner: None,
                depth: 0,
                container: if body.is_some() {
                    None
                } else {
                    parent.container.clone()
                },
                body,
            }
        } else if lang.is_container(kind) {
            let name = text_of(
                node.child_by_field_name("name")
                    .or_else(|| node.child_by_field_name("type")),
                source,
            )
            .unwrap_or("?");
            Level {
                node,
                kind,
                owner: None,
                depth: 0,
                container: Some(name.into()),
                body: None,
            }
        } else {
            let (owner, depth) = match parent.body {
                Some((id, entry)) if id == node.id() => (Some(entry), 0),
                _ => (
                    parent.owner,
                    parent.depth + u32::from(lang.is_block(kind, parent.kind)),
                ),
            };
            if let Some(entry) = owner {
                let f = &mut out[entry];
                f.complexity += points(lang, node, kind, source);
                f.nesting = f.nesting.max(depth);
            }
            Level {
                node,
                kind,
                owner,
                depth,
                container: parent.container.clone(),
                body: None,
            }
        };
        levels.push(level);
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            levels.pop();
            if cursor.goto_next_sibling() {
                continue 'nodes;
            }
            if !cursor.goto_parent() || levels.len() <= 1 {
                break 'nodes;
            }
        }
    }
}

/// Functions of one file, by language.
pub fn analyze(path: &str, language: Option<&str>, text: &str) -> Parsed {
    // Python and Rust are read from their tokens.
    let read: fn(&str, &str) -> Result<Vec<FunctionInfo>, String> = match language {
        Some("Python") => python::analyze,
        Some("Rust") => rust::analyze,
        _ => return analyze_tree(path, language, text),
    };
    match read(path, text) {
        Ok(mut out) => {
            out.sort_by(|a, b| (a.line_start, &a.name).cmp(&(b.line_start, &b.name)));
            Parsed::Functions(out)
        }
        Err(message) => Parsed::Failed(message),
    }
}

/// Functions of a file in a language parsed with tree-sitter.
fn analyze_tree(path: &str, language: Option<&str>, text: &str) -> Parsed {
    let (lang, grammar): (Lang, tree_sitter::Language) = match language {
        Some("JavaScript") => (Lang::Js, tree_sitter_javascript::LANGUAGE.into()),
        Some("TypeScript") if path.ends_with(".tsx") => {
            (Lang::Js, tree_sitter_typescript::LANGUAGE_TSX.into())
        }
        Some("TypeScript") => (Lang::Js, tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
        Some("Go") => (Lang::Go, tree_sitter_go::LANGUAGE.into()),
        _ => return Parsed::Unsupported,
    };
    let key = match (lang, language) {
        (Lang::Js, Some("TypeScript")) if path.ends_with(".tsx") => 3,
        (Lang::Js, Some("TypeScript")) => 2,
        (Lang::Js, _) => 0,
        (Lang::Go, _) => 1,
    };
    thread_local! {
        /// One parser and kind table per grammar and thread, reused across files.
        static PARSERS: std::cell::RefCell<Vec<Option<GrammarState>>> =
            std::cell::RefCell::new((0..4).map(|_| None).collect());
    }
    let parsed = PARSERS.with(|cell| {
        let mut parsers = cell.borrow_mut();
        if parsers[key].is_none() {
            let mut parser = Parser::new();
            if parser.set_language(&grammar).is_err() {
                return Err(format!(
                    "the {} grammar did not load",
                    language.unwrap_or("?")
                ));
            }
            parsers[key] = Some((parser, std::rc::Rc::new(Kinds::new(&grammar))));
        }
        let (parser, kinds) = parsers[key].as_mut().expect("set above");
        let tree = parser.parse(text, None);
        Ok((tree, kinds.clone()))
    });
    let (tree, kinds) = match parsed {
        Ok(p) => p,
        Err(message) => return Parsed::Failed(message),
    };
    let Some(tree) = tree else {
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
    collect(lang, &kinds, root, text.as_bytes(), path, &mut out);
    out.sort_by_key(|f| (f.line_start, f.name.clone()));
    Parsed::Functions(out)
}

/// The first error or missing node in pre-order. Iterative, descending only
/// into subtrees that hold an error: a file of 50,000 nested parentheses must
/// not overflow the stack.
fn first_error(root: Node<'_>) -> Option<Node<'_>> {
    let mut node = root;
    loop {
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        let mut cursor = node.walk();
        let next = node
            .children(&mut cursor)
            .find(|c| c.is_error() || c.is_missing() || c.has_error())?;
        node = next;
    }
}

/// The token readers' tests compare functions as plain rows.
#[cfg(test)]
mod rows {
    use super::FunctionInfo;

    /// (name, first line, last line, complexity, nesting, parameters).
    pub(super) type Row = (String, usize, usize, u32, u32, u32);

    /// `functions` as rows, in line order.
    pub(super) fn of(mut functions: Vec<FunctionInfo>) -> Vec<Row> {
        functions.sort_by_key(|f| f.line_start);
        functions
            .into_iter()
            .map(|f| {
                (
                    f.name,
                    f.line_start,
                    f.line_end,
                    f.complexity,
                    f.nesting,
                    f.parameters,
                )
            })
            .collect()
    }

    pub(super) fn row(name: &str, lines: (usize, usize), cc: u32, nest: u32, params: u32) -> Row {
        (name.to_owned(), lines.0, lines.1, cc, nest, params)
    }
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

    fn entries(path: &str, lang: &str, src: &str) -> Vec<(String, u32, u32, u32)> {
        match analyze(path, Some(lang), src) {
            Parsed::Functions(f) => f
                .into_iter()
                .map(|f| (f.name, f.complexity, f.nesting, f.parameters))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    fn e(name: &str, cc: u32, nest: u32, params: u32) -> (String, u32, u32, u32) {
        (name.to_owned(), cc, nest, params)
    }

    #[test]
    fn deeply_nested_syntax_errors_are_reported_without_recursion() {
        // 50,000 nested parentheses around a syntax error: a recursive
        // search for the error overflowed the stack and killed the audit.
        let go = format!(
            "package p\nfunc f() {{ x := {}1 +{} }}\n",
            "(".repeat(50_000),
            ")".repeat(50_000)
        );
        // Rust is read from tokens: the same depth of brackets, conditions
        // nested in conditions and blocks, and an unclosed one.
        let rust = [
            format!(
                "fn f() {{ let x = {}1{}; }}\n",
                "(".repeat(50_000),
                ")".repeat(50_000)
            ),
            format!(
                "fn f() {{ {}1{} }}\n",
                "if if ".repeat(20_000),
                " {} {}".repeat(20_000)
            ),
            format!("fn f() {{ {} }}\n", "{".repeat(50_000)),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let mut out = vec![analyze("deep.go", Some("Go"), &go)];
                out.extend(rust.iter().map(|r| analyze("deep.rs", Some("Rust"), r)));
                out
            })
            .unwrap();
        let results = handle.join().expect("no stack overflow");
        for r in [&results[0], &results[3]] {
            match r {
                Parsed::Failed(m) => assert!(m.starts_with("syntax error near line"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        for r in &results[1..3] {
            assert!(matches!(r, Parsed::Functions(f) if f.len() == 1), "{r:?}");
        }
    }

    #[test]
    fn a_function_that_is_another_functions_body_counts_only_for_itself() {
        assert_eq!(
            entries("x.js", "JavaScript", "const f = a => b => (b ? 1 : 2);\n"),
            [e("<anonymous>", 2, 0, 1), e("f", 1, 0, 1)]
        );
    }

    #[test]
    fn rust_go_and_javascript_rules() {
        let rust = "fn f(a: u32, b: bool) -> u32 {\n    if a > 1 && b { 1 } else if b || !b { 2 } else {\n        match a { 0 => 0, 1 | 2 => 1, _ => 3 }\n    };\n    for _ in 0..a { while b { loop { break; } } }\n    let c = |x: u32| if x > 0 { x } else { 0 };\n    c(a)\n}\nimpl S { fn m(&self) {} }\n";
        // if, &&, else if, ||, 2 more arms, for, while, loop, closure's if.
        assert_eq!(
            entries("a.rs", "Rust", rust),
            [e("f", 11, 3, 2), e("S.m", 1, 0, 1)]
        );
        let js = "function f(a, b) {\n  if (a && b) {} else if (a || b ?? c) {}\n  for (const x of y) {} for (;;) {} while (a) {} do {} while (b);\n  switch (a) { case 1: break; case 2: break; default: }\n  try {} catch (e) {}\n  return a ? 1 : 2;\n}\nconst g = (x) => x ? 1 : 0;\nclass C { m(p, q) { return [].map(v => v); } }\n";
        // if, &&, else if, ||, ??, for-of, for, while, do, 2 cases, catch, ternary.
        assert_eq!(
            entries("a.js", "JavaScript", js),
            [
                e("f", 14, 1, 2),
                e("g", 2, 0, 1),
                e("<anonymous>", 1, 0, 1),
                e("C.m", 1, 0, 2)
            ]
        );
        let ts = "function f(a: number): number { if (a) { return 1 } return 2 }\nconst h = function (y: number) { return y ?? 0; };\n";
        assert_eq!(
            entries("a.ts", "TypeScript", ts),
            [e("f", 2, 1, 1), e("h", 2, 0, 1)]
        );
        let go = "package p\nfunc f(a, b int, c bool) int {\n\tif a > 1 && c { return 1 } else if c || !c { return 2 }\n\tfor i := 0; i < a; i++ {}\n\tswitch a { case 1: ; case 2, 3: ; default: }\n\tselect { case <-ch: ; default: }\n\tg := func() { if c {} }\n\t_ = g\n\treturn 0\n}\nfunc (s *S) M(x int) {}\n";
        // if, &&, else if, ||, for, 2 cases, 1 communication case, the literal's if.
        assert_eq!(
            entries("a.go", "Go", go),
            [e("f", 10, 1, 3), e("S.M", 1, 0, 1)]
        );
    }
}
