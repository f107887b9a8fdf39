//! Chat templates: a model's Jinja `chat_template` rendered as `transformers`'
//! `apply_chat_template` renders it, and the mask of the assistant's tokens.
//!
//! The environment is the one `transformers` builds: `trim_blocks` and
//! `lstrip_blocks` on, loop controls, the globals `raise_exception`,
//! `strftime_now`, `dict` and `namespace`, a `tojson` filter that writes what
//! Python's `json.dumps` writes (no HTML escaping, `ensure_ascii=False`), and
//! Python's string and dict methods (`.strip()`, `.startswith()`, `.items()`).
//! The variables are `messages` (keys whose value is null dropped), `tools`
//! and `documents` (both `none`), `add_generation_prompt`, the tokenizer's
//! special tokens (`bos_token`, `eos_token`, `unk_token`, `pad_token`) and any
//! extra variables, which override them.
//!
//! # The assistant mask
//!
//! Where the template marks the assistant's text with `{% generation %}` …
//! `{% endgeneration %}` blocks, the mask is `transformers`'
//! `return_assistant_tokens_mask`: every token from the one holding a block's
//! first character to the one holding its last. Otherwise codex renders the
//! conversation a second time with each assistant message's content replaced
//! by a placeholder; the text between placeholders must be the text between
//! the replies in the real rendering, and each reply must be rendered as given
//! or trimmed of whitespace at either end. The mask is the tokens that
//! overlap each reply as rendered plus the special tokens that follow it
//! directly and that the template also writes after the reply when the
//! conversation ends there: the end-of-turn tokens, such as `<|im_end|>`,
//! `<|eot_id|>`, `<end_of_turn>` or `</s>`, and not the next turn's opening
//! ones (Mistral's `[INST]`). Whitespace or text after them is not masked. A template that renders a reply any other way (or prints it
//! twice, or not at all) is an error that says so.

use std::ops::Range;
use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{AutoEscape, Environment, ErrorKind};
use serde_json::{Map, Value as Json};

use crate::error::TokenizeError;
use crate::special::SpecialTokens;

/// Opens a `{% generation %}` block in the rewritten template.
const OPEN: char = '\u{E000}';
/// Closes a `{% generation %}` block in the rewritten template.
const CLOSE: char = '\u{E001}';
/// Open and close an assistant content's placeholder.
const PLACE_OPEN: char = '\u{E002}';
const PLACE_CLOSE: char = '\u{E003}';

/// ChatML (Qwen, SmolLM, Hermes), with the assistant's text and `<|im_end|>`
/// in a generation block so that its mask is exact.
const CHATML: &str = "{%- for message in messages %}
    {{- '<|im_start|>' + message['role'] + '\\n' }}
    {%- if message['role'] == 'assistant' %}
        {%- generation %}
            {{- message['content'] + '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\\n' }}
    {%- else %}
        {{- message['content'] + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
";

/// The templates codex ships, by the name `data.chat_template` gives them.
pub const BUILTIN_CHAT_TEMPLATES: &[(&str, &str)] = &[("chatml", CHATML)];

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    origin: String,
    has_generation: bool,
}

/// How to render one conversation.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// End with the header of an assistant turn, for generation.
    pub add_generation_prompt: bool,
    /// The special tokens the template sees as `bos_token`, `eos_token`, ….
    pub special: SpecialTokens,
    /// Further variables (such as `date_string` or `enable_thinking`); they
    /// override the special tokens, as `apply_chat_template`'s keyword
    /// arguments do.
    pub extra: Map<String, Json>,
}

/// A rendered conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text.
    pub text: String,
    /// Byte ranges of the `{% generation %}` blocks, in rendering order.
    pub generation: Vec<Range<usize>>,
}

pub use codex_core::config::LossOn;

/// A conversation as token ids and its loss mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEncoding {
    /// The rendered text.
    pub text: String,
    /// Its tokens (no special tokens added beyond what the template writes).
    pub ids: Vec<u32>,
    /// 1 where the token is learned from, 0 elsewhere.
    pub mask: Vec<u8>,
}

impl ChatTemplate {
    /// Compiles `source`; `origin` names it in errors (a file, or
    /// `builtin chatml`).
    pub fn new(source: &str, origin: &str) -> Result<Self, TokenizeError> {
        let (rewritten, has_generation) = rewrite_generation_blocks(source);
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", rewritten)
            .map_err(|e| template_error(origin, &e))?;
        Ok(Self {
            env,
            source: source.to_owned(),
            origin: origin.to_owned(),
            has_generation,
        })
    }

    /// A template codex ships, by name (see [`BUILTIN_CHAT_TEMPLATES`]).
    pub fn builtin(name: &str) -> Result<Self, TokenizeError> {
        let (_, source) = BUILTIN_CHAT_TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| TokenizeError::Template {
                origin: format!("data.chat_template `{name}`"),
                message: format!(
                    "no built-in chat template has this name (built in: {})",
                    BUILTIN_CHAT_TEMPLATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        Self::new(source, &format!("builtin {name}"))
    }

    /// A built-in template by name (see [`BUILTIN_CHAT_TEMPLATES`]), or a
    /// `.jinja` file.
    pub fn named(name: &str) -> Result<Self, TokenizeError> {
        let path = Path::new(name);
        if name.ends_with(".jinja") || path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| TokenizeError::Io {
                path: path.to_owned(),
                source,
            })?;
            return Self::new(&text, &path.display().to_string());
        }
        Self::builtin(name)
    }

    /// The template `setting` names (see [`ChatTemplate::named`]), else the
    /// one of the tokenizer directory `dir`; `key` names the setting in the
    /// error when there is neither.
    pub fn resolve(setting: Option<&str>, dir: &Path, key: &str) -> Result<Self, TokenizeError> {
        match setting {
            Some(name) => Self::named(name),
            None => Self::from_dir(dir)?.ok_or_else(|| TokenizeError::Template {
                origin: format!("of {}", dir.display()),
                message: format!(
                    "none: the tokenizer's directory has neither chat_template.jinja nor a chat_template in tokenizer_config.json; name one with {key} (built in: {}) or a .jinja file",
                    BUILTIN_CHAT_TEMPLATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// The template of a tokenizer directory, as `transformers` finds it:
    /// `chat_template.jinja`, else `tokenizer_config.json`'s `chat_template`
    /// (a string, or a list of named templates of which `default` is taken).
    /// `None` when the directory declares none.
    pub fn from_dir(dir: &Path) -> Result<Option<Self>, TokenizeError> {
        let file = dir.join("chat_template.jinja");
        match std::fs::read_to_string(&file) {
            Ok(text) => return Self::new(&text, &file.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(TokenizeError::Io { path: file, source }),
        }
        let config = dir.join("tokenizer_config.json");
        let text = match std::fs::read_to_string(&config) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TokenizeError::Io {
                    path: config,
                    source,
                });
            }
        };
        let load = |message: String| TokenizeError::Load {
            path: config.clone(),
            message,
        };
        let v: Json =
            serde_json::from_str(&text).map_err(|e| load(format!("not valid JSON: {e}")))?;
        let origin = format!("{} (chat_template)", config.display());
        match v.get("chat_template") {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Self::new(s, &origin).map(Some),
            Some(Json::Array(named)) => {
                let default = named
                    .iter()
                    .find(|t| t.get("name") == Some(&"default".into()));
                match default
                    .and_then(|t| t.get("template"))
                    .and_then(Json::as_str)
                {
                    Some(s) => Self::new(s, &origin).map(Some),
                    None => Err(load(
                        "`chat_template` is a list without a template named `default`".into(),
                    )),
                }
            }
            Some(_) => Err(load(
                "`chat_template` is neither a string nor a list".into(),
            )),
        }
    }

    /// The template's text as given (what an export writes back).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the template came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the template marks the assistant's text with generation blocks.
    pub fn has_generation_blocks(&self) -> bool {
        self.has_generation
    }

    /// Renders `messages` (a list of `{"role": …, "content": …}` objects).
    pub fn render(
        &self,
        messages: &[Json],
        options: &RenderOptions,
    ) -> Result<Rendered, TokenizeError> {
        for (i, m) in messages.iter().enumerate() {
            if contains_marker(m) {
                return Err(self.error(format!(
                    "message {i} holds a character of the private-use range U+E000..U+E003, which codex reserves for locating generation blocks and replies"
                )));
            }
        }
        self.render_unchecked(messages, options)
    }

    /// [`ChatTemplate::render`] of messages that may hold placeholders.
    fn render_unchecked(
        &self,
        messages: &[Json],
        options: &RenderOptions,
    ) -> Result<Rendered, TokenizeError> {
        let mut cleaned = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let Json::Object(map) = m else {
                return Err(self.error(format!("message {i} is not a JSON object")));
            };
            let kept: Map<String, Json> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            cleaned.push(Json::Object(kept));
        }
        let mut vars = Map::new();
        for (key, value) in [
            ("bos_token", &options.special.bos),
            ("eos_token", &options.special.eos),
            ("unk_token", &options.special.unk),
            ("pad_token", &options.special.pad),
        ] {
            if let Some(v) = value {
                vars.insert(key.into(), Json::String(v.clone()));
            }
        }
        vars.extend(options.extra.clone());
        vars.insert("messages".into(), Json::Array(cleaned));
        vars.insert("tools".into(), Json::Null);
        vars.insert("documents".into(), Json::Null);
        vars.insert(
            "add_generation_prompt".into(),
            Json::Bool(options.add_generation_prompt),
        );
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| template_error(&self.origin, &e))?;
        let raw = template
            .render(Value::from(Serde(&vars)))
            .map_err(|e| template_error(&self.origin, &e))?;
        Ok(strip_markers(&raw))
    }

    fn error(&self, message: String) -> TokenizeError {
        TokenizeError::Template {
            origin: self.origin.clone(),
            message,
        }
    }

    /// Renders and tokenizes `messages` and marks the tokens a fine-tune
    /// learns from (see the module documentation for the rule).
    pub fn encode(
        &self,
        tokenizer: &crate::HfTokenizer,
        messages: &[Json],
        options: &RenderOptions,
        loss_on: LossOn,
    ) -> Result<ChatEncoding, TokenizeError> {
        let rendered = self.render(messages, options)?;
        let encoding = tokenizer.encode(&rendered.text, false)?;
        let n = encoding.ids.len();
        let mask = match loss_on {
            LossOn::All => vec![1; n],
            LossOn::Assistant | LossOn::Completion => {
                if self.has_generation {
                    let mut m = generation_mask(&rendered, &encoding.offsets);
                    if loss_on == LossOn::Completion {
                        keep_last_run(&mut m);
                    }
                    m
                } else {
                    self.turn_mask(tokenizer, messages, options, &rendered, &encoding, loss_on)?
                }
            }
        };
        Ok(ChatEncoding {
            text: rendered.text,
            ids: encoding.ids,
            mask,
        })
    }

    /// The mask of the assistant turns, located by rendering the conversation
    /// once more with each assistant message's content replaced by a
    /// placeholder: the text around the placeholders is the text around the
    /// contents in the real rendering.
    fn turn_mask(
        &self,
        tokenizer: &crate::HfTokenizer,
        messages: &[Json],
        options: &RenderOptions,
        rendered: &Rendered,
        encoding: &crate::Encoding,
        loss_on: LossOn,
    ) -> Result<Vec<u8>, TokenizeError> {
        let text = &rendered.text;
        let offsets = &encoding.offsets;
        let assistant: Vec<usize> = (0..messages.len())
            .filter(|&i| role(&messages[i]) == Some("assistant"))
            .collect();
        let mut placeheld = messages.to_vec();
        for &i in &assistant {
            if let Some(m) = placeheld[i].as_object_mut() {
                m.insert("content".into(), Json::String(placeholder(i)));
            }
        }
        let skeleton = self.render_unchecked(&placeheld, options)?.text;
        let cannot = |i: usize, why: &str| {
            self.error(format!(
                "cannot locate assistant message {i}: {why}; add {{% generation %}} blocks to the template or set train.loss_on: all"
            ))
        };
        // The skeleton's text between placeholders, in order.
        let mut pieces: Vec<&str> = Vec::with_capacity(assistant.len() + 1);
        let mut rest = skeleton.as_str();
        for &i in &assistant {
            let mark = placeholder(i);
            let Some(at) = rest.find(&mark) else {
                return Err(cannot(
                    i,
                    "the template does not print its content once, in order",
                ));
            };
            pieces.push(&rest[..at]);
            rest = &rest[at + mark.len()..];
        }
        pieces.push(rest);
        if assistant.iter().any(|&i| rest.contains(&placeholder(i))) {
            return Err(cannot(
                assistant[0],
                "the template prints a message's content more than once",
            ));
        }
        let Some(mut pos) = text.starts_with(pieces[0]).then_some(pieces[0].len()) else {
            return Err(cannot(
                assistant.first().copied().unwrap_or(0),
                "the template renders the text before it differently",
            ));
        };
        let mut spans = Vec::with_capacity(assistant.len());
        for (k, &i) in assistant.iter().enumerate() {
            let content = content_text(&messages[i]);
            let next = pieces[k + 1];
            let last = k + 1 == assistant.len();
            let fits = |c: &str| {
                let after = &text[pos..];
                after.starts_with(c) && {
                    let tail = &after[c.len()..];
                    if last {
                        tail == next
                    } else {
                        tail.starts_with(next)
                    }
                }
            };
            let candidates = [
                content.as_str(),
                content.trim(),
                content.trim_start(),
                content.trim_end(),
            ];
            let Some(c) = candidates.into_iter().find(|c| fits(c)) else {
                return Err(cannot(i, "its content is not rendered as given or trimmed"));
            };
            spans.push(pos..pos + c.len());
            pos += c.len() + next.len();
        }
        let chosen: Vec<(usize, Range<usize>)> = assistant.iter().copied().zip(spans).collect();
        let chosen = match loss_on {
            LossOn::Completion => &chosen[chosen.len().saturating_sub(1)..],
            _ => &chosen[..],
        };
        let without_prompt = RenderOptions {
            add_generation_prompt: false,
            ..options.clone()
        };
        let special = tokenizer.special_ids();
        let mut mask = vec![0u8; encoding.ids.len()];
        for (i, span) in chosen {
            let mut last = None;
            for (t, &(s, e)) in offsets.iter().enumerate() {
                if e > span.start && s < span.end {
                    mask[t] = 1;
                    last = Some(t);
                }
            }
            // The end-of-turn tokens: the special tokens right after the
            // reply that the template also writes after it when the
            // conversation ends with it (not the next turn's opening ones).
            let own = self.render(&messages[..=*i], &without_prompt)?.text;
            let reply = &text[span.clone()];
            let tail = own.rfind(reply).map_or("", |at| &own[at + reply.len()..]);
            let mut t = match last {
                Some(t) => t + 1,
                None => offsets.partition_point(|&(s, _)| s < span.end),
            };
            let mut at = span.end;
            while t < mask.len() && special.binary_search(&encoding.ids[t]).is_ok() {
                let (s, e) = offsets[t];
                if s != at || !tail[at - span.end..].starts_with(&text[s..e]) {
                    break;
                }
                mask[t] = 1;
                at = e;
                t += 1;
            }
        }
        Ok(mask)
    }
}

/// What stands for assistant message `i`'s content while locating it.
fn placeholder(i: usize) -> String {
    format!("{PLACE_OPEN}{i}{PLACE_CLOSE}")
}

fn role(message: &Json) -> Option<&str> {
    message.get("role").and_then(Json::as_str)
}

/// A message's text content: the string, or the text blocks of a list.
fn content_text(message: &Json) -> String {
    match message.get("content") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Json::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// `transformers`' mask from generation blocks: for each block, the tokens
/// from the one holding its first character to the one holding its last
/// (to the end when the last is in no token); a block whose first character
/// is in no token ends the marking.
fn generation_mask(rendered: &Rendered, offsets: &[(usize, usize)]) -> Vec<u8> {
    let mut mask = vec![0u8; offsets.len()];
    let token_at = |byte: usize| offsets.iter().position(|&(s, e)| s <= byte && byte < e);
    for span in &rendered.generation {
        let Some(start) = token_at(span.start) else {
            break;
        };
        let last_char = rendered.text[..span.end]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i);
        // `if end_token` in Python: a last token of index 0 counts as absent.
        let end = match token_at(last_char) {
            Some(e) if e > 0 => e + 1,
            _ => offsets.len(),
        };
        for m in mask.iter_mut().take(end).skip(start) {
            *m = 1;
        }
    }
    mask
}

/// Keeps only the last run of ones.
fn keep_last_run(mask: &mut [u8]) {
    let Some(last) = mask.iter().rposition(|&m| m == 1) else {
        return;
    };
    let first = mask[..last]
        .iter()
        .rposition(|&m| m == 0)
        .map_or(0, |i| i + 1);
    for m in &mut mask[..first] {
        *m = 0;
    }
}

/// The characters codex reserves in messages.
const RESERVED: [char; 4] = [OPEN, CLOSE, PLACE_OPEN, PLACE_CLOSE];

fn contains_marker(v: &Json) -> bool {
    match v {
        Json::String(s) => s.contains(RESERVED),
        Json::Array(a) => a.iter().any(contains_marker),
        Json::Object(o) => o
            .iter()
            .any(|(k, v)| k.contains(RESERVED) || contains_marker(v)),
        _ => false,
    }
}

/// Rewrites `{% generation %}` and `{% endgeneration %}` (with their
/// whitespace controls) into block tags that print a marker character, so
/// that `trim_blocks` and `lstrip_blocks` treat them as the block tags they
/// were; returns whether any were found.
fn rewrite_generation_blocks(source: &str) -> (String, bool) {
    let re = regex::Regex::new(r"\{%([-+]?)\s*(generation|endgeneration)\s*([-+]?)%\}")
        .expect("a valid pattern");
    let mut found = false;
    let out = re.replace_all(source, |c: &regex::Captures<'_>| {
        found = true;
        let marker = if &c[2] == "generation" { OPEN } else { CLOSE };
        format!(
            "{{%{} if true %}}{{{{ '{marker}' }}}}{{% endif {}%}}",
            &c[1], &c[3]
        )
    });
    (out.into_owned(), found)
}

/// The text without its markers, and the byte ranges they enclosed.
fn strip_markers(raw: &str) -> Rendered {
    let mut text = String::with_capacity(raw.len());
    let mut open: Vec<usize> = Vec::new();
    let mut generation = Vec::new();
    for c in raw.chars() {
        match c {
            OPEN => open.push(text.len()),
            CLOSE => {
                if let Some(start) = open.pop() {
                    generation.push(start..text.len());
                }
            }
            c => text.push(c),
        }
    }
    generation.sort_by_key(|r| (r.start, r.end));
    Rendered { text, generation }
}

fn template_error(origin: &str, e: &minijinja::Error) -> TokenizeError {
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        message = format!("line {line}: {message}");
    }
    TokenizeError::Template {
        origin: origin.to_owned(),
        message,
    }
}

fn raise_exception(message: String) -> Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> Result<String, minijinja::Error> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", chrono::Local::now().format(&format)).map_err(|_| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("strftime_now: invalid format `{format}`"),
        )
    })?;
    Ok(out)
}

/// Python's `json.dumps(x, ensure_ascii=False, indent=…, separators=…,
/// sort_keys=…)`, the filter `transformers` installs.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let indent: Option<Value> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let json: Json = serde_json::to_value(value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let indent = match indent {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_owned()),
            None => Some(" ".repeat(usize::try_from(v).map_err(|_| {
                minijinja::Error::new(ErrorKind::InvalidOperation, "tojson: bad indent")
            })?)),
        },
    };
    let (item, key) = match (&separators, &indent) {
        (Some(s), _) if s.len() == 2 => (s[0].clone(), s[1].clone()),
        (_, None) => (", ".to_owned(), ": ".to_owned()),
        (_, Some(_)) => (",".to_owned(), ": ".to_owned()),
    };
    let style = PyJson {
        indent,
        item,
        key,
        sort_keys: sort_keys.unwrap_or(false),
        ensure_ascii: ensure_ascii.unwrap_or(false),
    };
    let mut out = String::new();
    style.write(&json, 0, &mut out);
    Ok(out)
}

/// Python's `json.dumps` layout.
struct PyJson {
    indent: Option<String>,
    item: String,
    key: String,
    sort_keys: bool,
    ensure_ascii: bool,
}

impl PyJson {
    fn newline(&self, depth: usize, out: &mut String) {
        if let Some(ind) = &self.indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    }

    fn write(&self, v: &Json, depth: usize, out: &mut String) {
        match v {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&python_number(n)),
            Json::String(s) => self.string(s, out),
            Json::Array(a) if a.is_empty() => out.push_str("[]"),
            Json::Object(o) if o.is_empty() => out.push_str("{}"),
            Json::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item);
                    }
                    self.newline(depth + 1, out);
                    self.write(x, depth + 1, out);
                }
                self.newline(depth, out);
                out.push(']');
            }
            Json::Object(o) => {
                let mut entries: Vec<(&String, &Json)> = o.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (i, (k, x)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item);
                    }
                    self.newline(depth + 1, out);
                    self.string(k, out);
                    out.push_str(&self.key);
                    self.write(x, depth + 1, out);
                }
                self.newline(depth, out);
                out.push('}');
            }
        }
    }

    fn string(&self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && (c as u32) > 0x7e) => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// A number as Python's `json.dumps` writes it (`repr` of int or float).
fn python_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f == f.trunc() && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let s = format!("{f:?}");
    match s.split_once('e') {
        // Python writes the exponent with a sign and at least two digits.
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(v: Json) -> Vec<Json> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn generation_blocks_keep_the_whitespace_rules_of_block_tags() {
        let t = ChatTemplate::new(
            "{% for m in messages %}\n  {% generation %}\n{{ m.content }}\n  {%- endgeneration %}\n|{% endfor %}",
            "test",
        )
        .unwrap();
        let plain = ChatTemplate::new(
            "{% for m in messages %}\n  {% if true %}\n{{ m.content }}\n  {%- endif %}\n|{% endfor %}",
            "test",
        )
        .unwrap();
        let m = msgs(serde_json::json!([{"role": "assistant", "content": "hi"}]));
        let r = t.render(&m, &RenderOptions::default()).unwrap();
        let p = plain.render(&m, &RenderOptions::default()).unwrap();
        assert_eq!(r.text, p.text);
        assert_eq!(r.text, "hi|");
        assert_eq!(r.generation, vec![0..2]);
    }

    #[test]
    fn raise_exception_is_an_error_naming_the_template() {
        let t =
            ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "my.jinja").unwrap();
        let err = t
            .render(&[], &RenderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("my.jinja") && err.contains("roles must alternate"),
            "{err}"
        );
    }

    #[test]
    fn tojson_writes_what_python_writes() {
        let t = ChatTemplate::new(
            "{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ y | tojson }}",
            "test",
        )
        .unwrap();
        let mut extra = Map::new();
        extra.insert(
            "x".into(),
            serde_json::json!({"a": [1, 2.5, "é<>&"], "b": null}),
        );
        extra.insert("y".into(), serde_json::json!(3.0));
        let r = t
            .render(
                &[],
                &RenderOptions {
                    extra,
                    ..RenderOptions::default()
                },
            )
            .unwrap();
        assert_eq!(
            r.text,
            "{\"a\": [1, 2.5, \"é<>&\"], \"b\": null}|{\n  \"a\": [\n    1,\n    2.5,\n    \"é<>&\"\n  ],\n  \"b\": null\n}|3.0"
        );
    }

    #[test]
    fn null_keys_are_dropped_and_markers_refused() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{{ m.name is defined }}{% endfor %}",
            "test",
        )
        .unwrap();
        let m = msgs(serde_json::json!([{"role": "user", "content": "x", "name": null}]));
        // Python's spelling of booleans, as jinja2 prints them.
        assert_eq!(
            t.render(&m, &RenderOptions::default()).unwrap().text,
            "False"
        );
        let bad = msgs(serde_json::json!([{"role": "user", "content": "a\u{E000}"}]));
        assert!(t.render(&bad, &RenderOptions::default()).is_err());
    }

    #[test]
    fn last_run_is_kept() {
        let mut m = vec![0, 1, 1, 0, 1, 1, 0];
        keep_last_run(&mut m);
        assert_eq!(m, vec![0, 0, 0, 0, 1, 1, 0]);
    }

    #[test]
    fn unknown_builtin_names_the_known_ones() {
        let err = ChatTemplate::builtin("chatmll").unwrap_err().to_string();
        assert!(err.contains("chatml"), "{err}");
    }
}
