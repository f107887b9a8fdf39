//! Python functions and their complexity from tokens, without a syntax tree.
//!
//! Python's layout makes its structure readable from tokens: statements are
//! logical lines (brackets and backslashes join physical ones), blocks are
//! indentation, and every decision radon counts is a keyword. So one pass
//! tokenizes the file into logical lines, and a stack of open compound
//! statements (each with the indentation of its header) says which function a
//! line belongs to, how deeply it is nested and which statement an `else`
//! continues. No tree is built; this is several times faster than parsing
//! with tree-sitter, which took most of the audit's time on Python trees.
//!
//! The rules are those of the module above (radon's). Syntax errors found on
//! the way (an unterminated string, unbalanced brackets, an indentation that
//! does not match, a header without a block, a clause that continues nothing)
//! fail the file; code that tokenizes and indents correctly but is not
//! Python 3 (a Python 2 `print` statement) is analyzed as far as it can be.

use std::rc::Rc;

use super::FunctionInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Name,
    Op,
    Str,
    Num,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// First and last line (1-based).
    line: usize,
    end: usize,
    /// Decision points inside an f-string's replacement fields.
    points: u32,
    /// Brackets around it within its logical line (a bracket is at the depth
    /// of what surrounds it, not of what it holds).
    depth: u32,
}

impl Token<'_> {
    fn is(&self, kind: Kind, text: &str) -> bool {
        self.kind == kind && self.text == text
    }

    fn op(&self, text: &str) -> bool {
        self.is(Kind::Op, text)
    }

    /// `:`, `,`, `;`, … outside any bracket of the line.
    fn top(&self, text: &str) -> bool {
        self.depth == 0 && self.op(text)
    }

    fn name(&self, text: &str) -> bool {
        self.is(Kind::Name, text)
    }
}

type Error = String;

fn error(line: usize) -> Error {
    format!("syntax error near line {line}")
}

/// Splits a file into logical lines of tokens.
struct Lexer<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    line: usize,
    /// Open brackets and their lines.
    brackets: Vec<(u8, usize)>,
    /// Comment-only lines skipped before the current logical line: (column, line).
    comments: Vec<(u32, usize)>,
    /// The last line of a comment inside the current logical line (after a
    /// backslash, a comment may end it on a line of its own).
    inner_comment: usize,
}

const OPS3: [&str; 5] = ["**=", "//=", ">>=", "<<=", "..."];
const OPS2: [&str; 21] = [
    "**", "//", "->", ":=", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "@=", "<>", "~=",
];

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The decisions an expression word adds: `if` (a conditional expression or
/// a comprehension's condition), `for`, `and`, `or`; and, as statement
/// keywords, `elif`, `while` and `except`.
fn word_points(word: &str) -> u32 {
    u32::from(matches!(
        word,
        "if" | "for" | "and" | "or" | "elif" | "while" | "except"
    ))
}

/// How a string prefix (`rb`, `f`, …) reads the string.
#[derive(Debug, Clone, Copy, Default)]
struct Prefix {
    /// An f-string (or a t-string): `{…}` holds expressions.
    f: bool,
    /// Raw: a backslash escapes nothing (though it still keeps a quote from
    /// ending the string).
    raw: bool,
}

fn string_prefix(word: &str) -> Option<Prefix> {
    if word.len() > 2 {
        return None;
    }
    let mut p = Prefix::default();
    for c in word.bytes() {
        match c.to_ascii_lowercase() {
            b'b' | b'u' => {}
            b'r' => p.raw = true,
            b'f' | b't' => p.f = true,
            _ => return None,
        }
    }
    Some(p)
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self {
            text,
            b: text.as_bytes(),
            i: 0,
            line: 1,
            brackets: Vec::new(),
            comments: Vec::new(),
            inner_comment: 0,
        }
    }

    fn peek(&self, at: usize) -> u8 {
        self.b.get(self.i + at).copied().unwrap_or(0)
    }

    /// Consumes one line break (`\n`, `\r\n` or `\r`) at `i`.
    fn newline(&mut self) {
        if self.b[self.i] == b'\r' && self.peek(1) == b'\n' {
            self.i += 1;
        }
        self.i += 1;
        self.line += 1;
    }

    fn skip_comment(&mut self) {
        while self.i < self.b.len() && !matches!(self.b[self.i], b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// The next logical line's indentation, its tokens in `out`; `None` at the end.
    fn next_line(&mut self, out: &mut Vec<Token<'a>>) -> Result<Option<u32>, Error> {
        out.clear();
        self.comments.clear();
        // Indentation; blank and comment-only lines are skipped.
        let indent = loop {
            let mut col = 0u32;
            while self.i < self.b.len() {
                match self.b[self.i] {
                    b' ' => col += 1,
                    b'\t' => col = (col / 8 + 1) * 8,
                    0x0c => col = 0,
                    _ => break,
                }
                self.i += 1;
            }
            if self.i >= self.b.len() {
                return Ok(None);
            }
            match self.b[self.i] {
                b'#' => {
                    self.comments.push((col, self.line));
                    self.skip_comment();
                }
                b'\n' | b'\r' => self.newline(),
                _ => break col,
            }
        };
        loop {
            if self.i >= self.b.len() {
                if let Some(&(_, line)) = self.brackets.last() {
                    return Err(error(line));
                }
                return Ok(Some(indent));
            }
            let c = self.b[self.i];
            match c {
                b' ' | b'\t' | 0x0c => self.i += 1,
                b'#' => {
                    self.inner_comment = self.line;
                    self.skip_comment();
                }
                b'\n' | b'\r' => {
                    self.newline();
                    if self.brackets.is_empty() {
                        return Ok(Some(indent));
                    }
                }
                b'\\' => {
                    self.i += 1;
                    if self.i < self.b.len() && matches!(self.b[self.i], b'\n' | b'\r') {
                        self.newline();
                    } else {
                        return Err(error(self.line));
                    }
                }
                b'\'' | b'"' => {
                    let start = self.i;
                    let line = self.line;
                    let points = self.string(Prefix::default())?;
                    out.push(self.token(Kind::Str, start, line, points));
                }
                c if is_name_start(c) => {
                    let start = self.i;
                    while self.i < self.b.len() && is_name_byte(self.b[self.i]) {
                        self.i += 1;
                    }
                    let word = &self.text[start..self.i];
                    let line = self.line;
                    if matches!(self.peek(0), b'\'' | b'"')
                        && let Some(prefix) = string_prefix(word)
                    {
                        let points = self.string(prefix)?;
                        out.push(self.token(Kind::Str, start, line, points));
                    } else {
                        out.push(self.token(Kind::Name, start, line, 0));
                    }
                }
                c if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) => {
                    let start = self.i;
                    self.number();
                    out.push(self.token(Kind::Num, start, self.line, 0));
                }
                b'(' | b'[' | b'{' => {
                    self.i += 1;
                    out.push(self.token(Kind::Op, self.i - 1, self.line, 0));
                    self.brackets.push((c, self.line));
                }
                b')' | b']' | b'}' => {
                    let open = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if self.brackets.pop().map(|b| b.0) != Some(open) {
                        return Err(error(self.line));
                    }
                    // An operator cannot end what a bracket holds (`(1 +)`;
                    // a parameter list may end with `/` or `*`).
                    if let Some(before) = out.last()
                        && before.kind == Kind::Op
                        && !matches!(
                            before.text,
                            "(" | "[" | "{" | ")" | "]" | "}" | "," | ":" | "..." | ";" | "/" | "*"
                        )
                    {
                        return Err(error(self.line));
                    }
                    self.i += 1;
                    out.push(self.token(Kind::Op, self.i - 1, self.line, 0));
                }
                _ => {
                    let start = self.i;
                    let rest = &self.b[start..];
                    let len = if OPS3.iter().any(|o| rest.starts_with(o.as_bytes())) {
                        3
                    } else if OPS2.iter().any(|o| rest.starts_with(o.as_bytes())) {
                        2
                    } else if c.is_ascii() {
                        1
                    } else {
                        return Err(error(self.line));
                    };
                    self.i += len;
                    out.push(self.token(Kind::Op, start, self.line, 0));
                }
            }
        }
    }

    /// A number literal, as Python's tokenizer ends it (`1if x else 2` is
    /// `1`, `if`, …).
    fn number(&mut self) {
        let digits = |lexer: &mut Self, hex: bool| {
            while lexer.i < lexer.b.len()
                && (lexer.b[lexer.i].is_ascii_digit()
                    || lexer.b[lexer.i] == b'_'
                    || (hex && lexer.b[lexer.i].is_ascii_hexdigit()))
            {
                lexer.i += 1;
            }
        };
        if self.b[self.i] == b'0' && matches!(self.peek(1), b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
        {
            self.i += 2;
            digits(self, true);
            return;
        }
        digits(self, false);
        if self.peek(0) == b'.' {
            self.i += 1;
            digits(self, false);
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            self.i += 2;
            digits(self, false);
        }
        if matches!(self.peek(0), b'j' | b'J') {
            self.i += 1;
        }
    }

    /// A token from `start` to the current position.
    fn token(&self, kind: Kind, start: usize, line: usize, points: u32) -> Token<'a> {
        Token {
            kind,
            text: &self.text[start..self.i.max(start)],
            line,
            end: self.line,
            points,
            depth: self.brackets.len() as u32,
        }
    }

    /// A string literal from its opening quote; returns the decision points
    /// in its replacement fields when it is an f-string.
    fn string(&mut self, prefix: Prefix) -> Result<u32, Error> {
        let f = prefix.f;
        let start_line = self.line;
        let q = self.b[self.i];
        let triple = self.peek(1) == q && self.peek(2) == q;
        self.i += if triple { 3 } else { 1 };
        let mut points = 0;
        loop {
            if self.i >= self.b.len() {
                return Err(error(start_line));
            }
            let c = self.b[self.i];
            if c == b'\\' {
                self.i += 1;
                if f && matches!(self.peek(0), b'{' | b'}') {
                    // In an f-string a backslash does not escape a brace.
                } else if f && !prefix.raw && self.peek(0) == b'N' && self.peek(1) == b'{' {
                    // `\N{NAME}` names a character; its braces hold no field.
                    while self.i < self.b.len() && self.b[self.i] != b'}' {
                        self.i += 1;
                    }
                    self.i += 1;
                } else if self.i < self.b.len() {
                    if matches!(self.b[self.i], b'\n' | b'\r') {
                        self.newline();
                    } else {
                        self.i += 1;
                    }
                }
            } else if c == q {
                if !triple {
                    self.i += 1;
                    return Ok(points);
                }
                if self.peek(1) == q && self.peek(2) == q {
                    self.i += 3;
                    return Ok(points);
                }
                self.i += 1;
            } else if matches!(c, b'\n' | b'\r') {
                if !triple {
                    return Err(error(start_line));
                }
                self.newline();
            } else if f && c == b'{' {
                if self.peek(1) == b'{' {
                    self.i += 2;
                } else {
                    self.i += 1;
                    points += self.field()?;
                }
            } else {
                self.i += 1;
            }
        }
    }

    /// An f-string replacement field after its `{`, through its `}`: the
    /// expression's decision points (its format spec may hold fields too).
    fn field(&mut self) -> Result<u32, Error> {
        let start_line = self.line;
        let mut depth = 0u32;
        let mut points = 0;
        let mut spec = false;
        loop {
            if self.i >= self.b.len() {
                return Err(error(start_line));
            }
            let c = self.b[self.i];
            if spec {
                match c {
                    b'{' => {
                        self.i += 1;
                        points += self.field()?;
                    }
                    b'}' => {
                        self.i += 1;
                        return Ok(points);
                    }
                    b'\n' | b'\r' => self.newline(),
                    _ => self.i += 1,
                }
                continue;
            }
            match c {
                b'\'' | b'"' => points += self.string(Prefix::default())?,
                c if is_name_start(c) => {
                    let start = self.i;
                    while self.i < self.b.len() && is_name_byte(self.b[self.i]) {
                        self.i += 1;
                    }
                    let word = &self.text[start..self.i];
                    if matches!(self.peek(0), b'\'' | b'"')
                        && let Some(prefix) = string_prefix(word)
                    {
                        points += self.string(prefix)?;
                    } else {
                        points += word_points(word);
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.i += 1;
                }
                b')' | b']' => {
                    depth = depth.saturating_sub(1);
                    self.i += 1;
                }
                b'}' => {
                    self.i += 1;
                    if depth == 0 {
                        return Ok(points);
                    }
                    depth -= 1;
                }
                b':' if depth == 0 => {
                    spec = true;
                    self.i += 1;
                }
                b'#' => self.skip_comment(),
                b'\n' | b'\r' => self.newline(),
                _ => self.i += 1,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stmt {
    If,
    Elif,
    Else,
    For,
    While,
    Try,
    Except,
    /// `except*`: radon counts neither it nor its statement's `else` (it
    /// looks for `Try` nodes, and `try` with `except*` is a `TryStar`).
    ExceptStar,
    Finally,
    With,
    Match,
    Case,
    Def,
    Class,
}

/// An open compound statement.
struct Frame {
    /// Its header's indentation: a line indented no deeper closes it.
    indent: u32,
    kind: Stmt,
    /// The function its body counts in.
    owner: Option<usize>,
    /// Control-flow blocks from the owner's body down to this statement's body.
    depth: u32,
    /// The class that names methods defined below (none inside a function).
    container: Option<Rc<str>>,
    /// When a `def`: its entry.
    entry: Option<usize>,
    /// The last line of its header and body so far.
    last: usize,
    /// The body followed on the header's line.
    inline: bool,
    /// An indented line has followed the header.
    body_seen: bool,
    /// The indentation of its body's first line.
    body_indent: u32,
    /// A `match` one of whose cases is `case _` or a bare capture.
    irrefutable: bool,
}

impl Frame {
    fn waits_for_body(&self) -> bool {
        !self.inline && !self.body_seen
    }
}

/// What the body of the innermost open statement counts in.
#[derive(Clone)]
struct Context {
    owner: Option<usize>,
    depth: u32,
    container: Option<Rc<str>>,
    kind: Option<Stmt>,
}

/// The index of the header's `:` (the first at bracket depth 0 that no
/// `lambda` of the header claims), searching from `from`.
fn header_colon(tokens: &[Token<'_>], from: usize) -> Option<usize> {
    let mut lambdas = 0;
    for (k, t) in tokens.iter().enumerate().skip(from) {
        if t.depth == 0 && t.name("lambda") {
            lambdas += 1;
        } else if t.top(":") {
            if lambdas == 0 {
                return Some(k);
            }
            lambdas -= 1;
        }
    }
    None
}

/// Decision points of expression tokens.
fn points(tokens: &[Token<'_>]) -> u32 {
    tokens
        .iter()
        .map(|t| match t.kind {
            Kind::Name => word_points(t.text),
            Kind::Str => t.points,
            _ => 0,
        })
        .sum()
}

/// Decision points of simple statements separated by `;`: each `assert`
/// counts 1 and nothing inside it counts, as radon never visits it.
fn statement_points(tokens: &[Token<'_>]) -> u32 {
    let mut total = 0;
    let mut start = 0;
    for (k, t) in tokens.iter().enumerate() {
        let end = k + 1 == tokens.len();
        let split = t.top(";");
        if split || end {
            let stop = if split { k } else { k + 1 };
            let stmt = &tokens[start..stop];
            total += match stmt.first() {
                Some(first) if first.name("assert") => 1,
                Some(_) => points(stmt),
                None => 0,
            };
            start = k + 1;
        }
    }
    total
}

/// Parameters of a `def` whose `(` is at `open`: top-level items, less a
/// bare `*` or `/`. Returns the count and the index after the `)`.
fn parameters(tokens: &[Token<'_>], open: usize) -> Option<(u32, usize)> {
    let inside = tokens[open].depth + 1;
    let mut count = 0;
    let mut item = 0usize;
    let mut bare = false;
    // A default value's `lambda` owns the commas up to its `:`.
    let mut lambdas = 0;
    for (k, t) in tokens.iter().enumerate().skip(open + 1) {
        if t.depth < inside {
            // The closing `)`.
            if item > 0 && !bare {
                count += 1;
            }
            return Some((count, k + 1));
        }
        if t.depth == inside {
            if t.name("lambda") {
                lambdas += 1;
            } else if t.op(":") && lambdas > 0 {
                lambdas -= 1;
            } else if t.op(",") && lambdas == 0 {
                if item > 0 && !bare {
                    count += 1;
                }
                item = 0;
                bare = false;
                continue;
            }
        }
        item += 1;
        bare = item == 1 && (t.op("*") || t.op("/"));
    }
    None
}

/// `case _`, `case name` or either in parentheses, guarded or not: radon
/// subtracts one from a `match` holding such a case (a bare capture, whose
/// AST pattern has no sub-pattern), whatever its guard says.
fn irrefutable(mut pattern: &[Token<'_>]) -> bool {
    while let [open, inner @ .., close] = pattern
        && open.op("(")
        && close.op(")")
    {
        pattern = inner;
    }
    matches!(pattern, [t] if t.kind == Kind::Name && !matches!(t.text, "None" | "True" | "False"))
}

/// Comment lines before a logical line belong to the innermost block whose
/// body is indented no deeper than they are (a less indented comment leaves
/// the blocks it is outside of, and the comments after it cannot return to
/// them), so a function's last line may be a trailing comment of its body.
fn trailing_comments(frames: &mut [Frame], comments: &[(u32, usize)]) {
    let mut limit = frames.len();
    for &(col, line) in comments {
        let Some(k) = frames[..limit]
            .iter()
            .rposition(|f| f.body_seen && f.body_indent <= col)
        else {
            return;
        };
        frames[k].last = frames[k].last.max(line);
        limit = k + 1;
    }
}

/// Functions of one Python file.
pub(super) fn analyze(path: &str, text: &str) -> Result<Vec<FunctionInfo>, Error> {
    let mut lexer = Lexer::new(text);
    let mut tokens = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut indents = vec![0u32];
    let mut out: Vec<FunctionInfo> = Vec::new();

    fn close(frames: &mut Vec<Frame>, out: &mut [FunctionInfo]) -> Frame {
        let f = frames.pop().expect("a frame to close");
        if f.kind == Stmt::Match
            && f.irrefutable
            && let Some(e) = f.owner
        {
            out[e].complexity -= 1;
        }
        if let Some(e) = f.entry {
            out[e].line_end = f.last;
        }
        if let Some(parent) = frames.last_mut() {
            parent.last = parent.last.max(f.last);
        }
        f
    }

    loop {
        let next = lexer.next_line(&mut tokens)?;
        trailing_comments(&mut frames, &lexer.comments);
        let Some(indent) = next else { break };
        let Some(first) = tokens.first().copied() else {
            continue;
        };
        let last_line = tokens
            .last()
            .map_or(first.line, |t| t.end)
            .max(lexer.inner_comment);
        // Indentation, as Python's tokenizer checks it.
        let top = *indents.last().expect("never empty");
        if indent > top {
            match frames.last_mut() {
                Some(f) if f.waits_for_body() => {
                    f.body_seen = true;
                    f.body_indent = indent;
                }
                _ => return Err(error(first.line)),
            }
            indents.push(indent);
        } else {
            if frames.last().is_some_and(Frame::waits_for_body) {
                return Err(error(first.line));
            }
            while indents.last().is_some_and(|&i| i > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                return Err(error(first.line));
            }
        }
        // Close the statements this line is not inside; keep the one it may continue.
        let mut previous: Option<(Stmt, u32)> = None;
        while frames.last().is_some_and(|f| f.indent >= indent) {
            let f = close(&mut frames, &mut out);
            if f.indent == indent {
                previous = Some((f.kind, f.depth));
            }
        }
        let ctx = frames.last().map_or(
            Context {
                owner: None,
                depth: 0,
                container: None,
                kind: None,
            },
            |f| Context {
                owner: f.owner,
                depth: f.depth,
                container: f.container.clone(),
                kind: Some(f.kind),
            },
        );
        if let Some(f) = frames.last_mut() {
            f.last = f.last.max(last_line);
        }
        let t = &tokens[..];
        let word = |k: usize| t.get(k).filter(|t| t.kind == Kind::Name).map(|t| t.text);
        let (at, keyword) = match (word(0), word(1)) {
            (Some("async"), Some(w @ ("def" | "for" | "with"))) => (1, w),
            (Some(w), _) => (0, w),
            (None, _) => (0, ""),
        };
        let kind = match keyword {
            "def" => Some(Stmt::Def),
            "class" => Some(Stmt::Class),
            "if" => Some(Stmt::If),
            "elif" => Some(Stmt::Elif),
            "else" => Some(Stmt::Else),
            "for" => Some(Stmt::For),
            "while" => Some(Stmt::While),
            "try" => Some(Stmt::Try),
            "except" if t.get(at + 1).is_some_and(|t| t.op("*")) => Some(Stmt::ExceptStar),
            "except" => Some(Stmt::Except),
            "finally" => Some(Stmt::Finally),
            "with" => Some(Stmt::With),
            "match" if t.len() > 2 && t[t.len() - 1].op(":") => Some(Stmt::Match),
            "case" if ctx.kind == Some(Stmt::Match) => Some(Stmt::Case),
            _ => None,
        };
        let Some(kind) = kind else {
            if ctx.kind == Some(Stmt::Match) {
                return Err(error(first.line));
            }
            // A decorator counts nowhere; other lines are simple statements.
            if !first.op("@")
                && let Some(e) = ctx.owner
            {
                out[e].complexity += statement_points(t);
            }
            continue;
        };
        let mut frame = Frame {
            indent,
            kind,
            owner: ctx.owner,
            depth: ctx.depth,
            container: ctx.container.clone(),
            entry: None,
            last: last_line,
            inline: false,
            body_seen: false,
            body_indent: 0,
            irrefutable: false,
        };
        let colon;
        match kind {
            Stmt::Def => {
                let Some(name) = word(at + 1) else {
                    return Err(error(first.line));
                };
                let mut open = at + 2;
                if t.get(open).is_some_and(|t| t.top("[")) {
                    // Type parameters (`def f[T](x)`): past their `]`.
                    open += 1 + t[open + 1..]
                        .iter()
                        .position(|t| t.top("]"))
                        .ok_or_else(|| error(first.line))?;
                    open += 1;
                }
                if !t.get(open).is_some_and(|t| t.op("(")) {
                    return Err(error(first.line));
                }
                let (params, after) = parameters(t, open).ok_or_else(|| error(first.line))?;
                colon = header_colon(t, after);
                out.push(FunctionInfo {
                    path: path.to_owned(),
                    name: ctx
                        .container
                        .as_deref()
                        .map_or_else(|| name.to_owned(), |c| format!("{c}.{name}")),
                    line_start: first.line,
                    line_end: last_line,
                    complexity: 1,
                    nesting: 0,
                    parameters: params,
                });
                let e = out.len() - 1;
                frame.entry = Some(e);
                frame.owner = Some(e);
                frame.depth = 0;
                frame.container = None;
            }
            Stmt::Class => {
                if word(at + 1).is_none() {
                    return Err(error(first.line));
                }
                colon = header_colon(t, at + 2);
                frame.owner = None;
                frame.depth = 0;
                frame.container = word(at + 1).map(Rc::from);
            }
            Stmt::Case => {
                colon = header_colon(t, 1);
                let k = colon.ok_or_else(|| error(first.line))?;
                // The guard's `if` does not count; what it tests does.
                let guard = (1..k).find(|&j| t[j].depth == 0 && t[j].name("if"));
                let pattern_end = guard.unwrap_or(k);
                if let Some(e) = ctx.owner {
                    out[e].complexity += 1 + guard.map_or(0, |g| points(&t[g + 1..k]));
                }
                if irrefutable(&t[1..pattern_end]) {
                    frames
                        .last_mut()
                        .expect("a case is inside its match")
                        .irrefutable = true;
                }
            }
            Stmt::Elif | Stmt::Else | Stmt::Except | Stmt::ExceptStar | Stmt::Finally => {
                use Stmt::{Elif, Else, Except, ExceptStar, For, If, Try, While};
                // What the clause adds besides the decisions of its header.
                let adds: i32 = match (kind, previous) {
                    (Elif, Some((If | Elif, _))) => 0,
                    (Else, Some((If | Elif | ExceptStar, _))) => 0,
                    (Else, Some((For | While | Except, _))) => 1,
                    (Except, Some((Try | Except, _))) => 0,
                    (ExceptStar, Some((Try | ExceptStar, _))) => -1,
                    (Stmt::Finally, Some((Try | Except | ExceptStar | Else, _))) => 0,
                    _ => return Err(error(first.line)),
                };
                // A clause is part of its statement: no deeper than its header.
                frame.depth = previous.map_or(ctx.depth, |p| p.1);
                colon = header_colon(t, at + 1);
                if let (Some(e), Some(k)) = (ctx.owner, colon) {
                    out[e].complexity = out[e]
                        .complexity
                        .saturating_add_signed(adds + points(&t[..k]) as i32);
                }
            }
            _ => {
                // if, for, while, try, with, match: a block one level deeper.
                frame.depth = ctx.depth + 1;
                colon = header_colon(t, at + 1);
                if let (Some(e), Some(k)) = (ctx.owner, colon) {
                    out[e].complexity += points(&t[..k]);
                    out[e].nesting = out[e].nesting.max(frame.depth);
                }
            }
        }
        let k = colon.ok_or_else(|| error(first.line))?;
        if k + 1 < t.len() {
            frame.inline = true;
            if kind == Stmt::Match {
                return Err(error(first.line));
            }
            if let Some(e) = frame.owner {
                out[e].complexity += statement_points(&t[k + 1..]);
            }
        }
        frames.push(frame);
    }
    if frames.last().is_some_and(Frame::waits_for_body) {
        return Err(error(lexer.line));
    }
    while !frames.is_empty() {
        close(&mut frames, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::complexity::rows::{Row, row as f};

    fn scan(src: &str) -> Vec<Row> {
        crate::complexity::rows::of(analyze("x.py", src).unwrap())
    }

    #[test]
    fn f_string_fields_count_and_their_braces_do_not_confuse_the_layout() {
        let src = "def f(a, b):\n    s = f\"{a if b else 0:>{w}} {{literal}} {[x for x in a]!r}\"\n    t = rf'\\{{(\\w+)}}' + f\"\\N{BULLET} {a and b}\"\n    return s\n";
        // if, for (in fields), and: 1 + 3.
        assert_eq!(scan(src), [f("f", (1, 4), 4, 0, 2)]);
    }

    #[test]
    fn parameters_with_lambdas_separators_and_continuations() {
        let src = "def f(a, /, b=lambda x, y: x, *, c, \\\n      **kw) -> int:\n    return 1\ndef g(*args,): pass\ndef h[T](x: T): return x\n";
        assert_eq!(
            scan(src),
            [
                f("f", (1, 3), 1, 0, 4),
                f("g", (4, 4), 1, 0, 1),
                f("h", (5, 5), 1, 0, 1),
            ]
        );
    }

    #[test]
    fn a_body_ends_with_its_trailing_comments_at_its_indentation() {
        let src = "class C:\n    def m(self):\n        if x:\n            pass\n            # in the if\n        # in m\n    # in C, not m\n\n        # too deep to return to m\nx = 1\n";
        assert_eq!(scan(src), [f("C.m", (2, 6), 2, 1, 1)]);
        // A backslash may leave the logical line to end in a comment line.
        let src = "def f():\n    assert g(), \\\n        # why\n\nx = 1\n";
        assert_eq!(scan(src), [f("f", (1, 3), 2, 0, 0)]);
    }

    #[test]
    fn clauses_match_and_decorators() {
        let src = "@deco(lambda: a if b else c)\ndef f(x):\n    match x:\n        case 1 | 2 if x and y:\n            pass\n        case _:\n            for i in x:\n                pass\n            else:\n                pass\n    try:\n        pass\n    except E:\n        pass\n    else:\n        pass\n    finally:\n        pass\n    y = 1if x else 2\n    match = x\n    return match\n";
        // 2 cases less the irrefutable one, the guard's `and` (not its `if`),
        // for and its else, except and the try's else, the conditional.
        assert_eq!(scan(src), [f("f", (2, 21), 8, 2, 1)]);
    }

    #[test]
    fn syntax_errors_fail_the_file() {
        for (src, line) in [
            ("def f():\n    s = 'open\n", 2),
            ("def f():\n    return (1,\n", 2),
            ("def f():\n        x = 1\n    y = 2\n", 3),
            ("def f():\nx = 1\n", 2),
            ("x = 1\n    y = 2\n", 2),
            ("def f():\n    return 1\nelse:\n    pass\n", 3),
            ("def f():\n    x = [1, 2)\n", 2),
            ("def f()\n    pass\n", 1),
            ("x = ((1 +))\n", 1),
        ] {
            assert_eq!(analyze("x.py", src), Err(error(line)), "{src:?}");
        }
    }
}
