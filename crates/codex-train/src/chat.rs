//! A model's chat format: its tokenizer, its chat template and the special
//! tokens the template sees, found from any model path; and rendering a
//! conversation with them (what `codex chat render` prints).

use std::path::{Path, PathBuf};

use codex_tokenize::{
    ChatEncoding, ChatTemplate, HfTokenizer, LossOn, RenderOptions, SpecialTokens,
};
use serde_json::Value;

use crate::error::TrainError;
use crate::load::{locate, tokenizer_for};

/// What renders conversations for a model.
#[derive(Debug)]
pub struct ChatFormat {
    /// The model's tokenizer.
    pub tokenizer: HfTokenizer,
    /// Where it was read.
    pub tokenizer_path: PathBuf,
    /// The chat template.
    pub template: ChatTemplate,
    /// The special tokens its directory declares (`bos_token`, `eos_token`, …).
    pub special: SpecialTokens,
}

/// The chat format of the model `path` names (a run, a checkpoint, a native
/// model or a Hugging Face directory): the tokenizer that goes with it and
/// the template beside that tokenizer, unless `template` names one (a
/// built-in name such as `chatml`, or a `.jinja` file).
pub fn chat_format(path: &Path, template: Option<&str>) -> Result<ChatFormat, TrainError> {
    let located = locate(path)?;
    let tokenizer_path = tokenizer_for(path, &located)?;
    let tokenizer = HfTokenizer::from_file(&tokenizer_path)?;
    let dir = tokenizer_path.parent().unwrap_or(Path::new("."));
    let special = SpecialTokens::read(dir)?.unwrap_or_default();
    let template = ChatTemplate::resolve(template, dir, "--chat-template")?;
    Ok(ChatFormat {
        tokenizer,
        tokenizer_path,
        template,
        special,
    })
}

/// The messages of a JSON file: a list of `{"role", "content"}` objects, or
/// an object with such a list under `messages`. Every message must have a
/// string `role`.
pub fn read_messages(file: &Path) -> Result<Vec<Value>, TrainError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| TrainError::input(file.display(), format!("cannot read: {e}")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| TrainError::input(file.display(), format!("not valid JSON: {e}")))?;
    let list = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("messages") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(TrainError::input(
                    file.display(),
                    "expected a list of messages, or an object with a `messages` list",
                ));
            }
        },
        _ => {
            return Err(TrainError::input(
                file.display(),
                "expected a list of messages, or an object with a `messages` list",
            ));
        }
    };
    if list.is_empty() {
        return Err(TrainError::input(
            file.display(),
            "the conversation is empty",
        ));
    }
    for (i, m) in list.iter().enumerate() {
        if m.get("role").and_then(Value::as_str).is_none() {
            return Err(TrainError::input(
                file.display(),
                format!("message {i} has no string `role`"),
            ));
        }
    }
    Ok(list)
}

impl ChatFormat {
    /// Renders and tokenizes `messages`, with the mask of the tokens
    /// `loss_on` selects.
    pub fn encode(
        &self,
        messages: &[Value],
        add_generation_prompt: bool,
        loss_on: LossOn,
    ) -> Result<ChatEncoding, TrainError> {
        let options = RenderOptions {
            add_generation_prompt,
            special: self.special.clone(),
            extra: serde_json::Map::new(),
        };
        Ok(self
            .template
            .encode(&self.tokenizer, messages, &options, loss_on)?)
    }
}

/// A model to talk to: loaded once, then [`ChatSession::reply`] per turn.
pub struct ChatSession {
    model: crate::load::InferenceModel,
    format: ChatFormat,
    filter: Box<dyn codex_core::TextFilter>,
    stop_tokens: Vec<u32>,
    options: codex_model::GenerateOptions,
    max_new_tokens: usize,
}

/// One reply of a [`ChatSession`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatReply {
    /// The reply, after the output filter.
    pub content: String,
    /// Tokens generated (the end-of-turn token included).
    pub new_tokens: usize,
    /// Why generation stopped: `end_of_turn` or `length`.
    pub stop_reason: &'static str,
    /// Whether the filter changed a message before the model saw it.
    pub prompt_redacted: bool,
}

impl std::fmt::Debug for ChatSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatSession")
            .field("template", &self.format.template.origin())
            .field("stop_tokens", &self.stop_tokens)
            .finish_non_exhaustive()
    }
}

impl ChatSession {
    /// Loads the model `path` names with its chat format (`template`
    /// overriding the model's own), the safety filter `filter` makes, and
    /// sampling settings (`None` fields: the model's `generation_config.json`).
    pub fn open(
        path: &Path,
        template: Option<&str>,
        sampling: &crate::Sampling,
        max_new_tokens: Option<usize>,
        device: &codex_model::burn::tensor::Device,
        filter: Option<&crate::FilterMaker<'_>>,
    ) -> Result<Self, TrainError> {
        let model = crate::load::load_for_inference(path, device)?;
        let format = chat_format(path, template)?;
        let cfg = crate::infer::config_of(&model)?;
        let filter = crate::infer::filter_of(&model, &cfg, filter, true)?;
        let defaults = model.generation_defaults()?;
        let options = sampling.resolve(&defaults);
        let max_new_tokens = max_new_tokens.or(defaults.max_new_tokens).unwrap_or(256);
        let mut stop_tokens = model.stop_tokens()?;
        stop_tokens.extend(end_of_turn_tokens(&format)?);
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        Ok(Self {
            model,
            format,
            filter,
            stop_tokens,
            options,
            max_new_tokens,
        })
    }

    /// The chat format in use.
    pub fn format(&self) -> &ChatFormat {
        &self.format
    }

    /// The tokens that end a reply: the model's end-of-sequence tokens and
    /// the template's end-of-turn tokens.
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop_tokens
    }

    /// The assistant's reply to `messages` (which end with a user turn): the
    /// messages' contents pass the filter's prompt stage, the template renders
    /// them with the generation prompt, the model continues until an
    /// end-of-turn token, and the reply passes the output stage.
    pub fn reply(&mut self, messages: &[Value]) -> Result<ChatReply, TrainError> {
        let mut filtered = messages.to_vec();
        let mut prompt_redacted = false;
        for m in &mut filtered {
            if let Some(Value::String(content)) = m.get_mut("content") {
                let clean = codex_core::apply_filter(
                    &*self.filter,
                    content.clone(),
                    codex_core::Stage::Prompt,
                    "message",
                )?;
                prompt_redacted |= clean != *content;
                *content = clean;
            }
        }
        let enc = self.format.encode(&filtered, true, LossOn::All)?;
        let context = self.model.model.config().context_length;
        let max_new = self
            .max_new_tokens
            .min(context.saturating_sub(enc.ids.len()));
        if max_new == 0 {
            return Err(TrainError::input(
                "the conversation",
                format!(
                    "has {} tokens, which fills the model's context of {context}",
                    enc.ids.len()
                ),
            ));
        }
        let out = codex_model::generate(
            &self.model.model,
            std::slice::from_ref(&enc.ids),
            &codex_model::GenerateOptions {
                max_new_tokens: max_new,
                stop_tokens: self.stop_tokens.clone(),
                vocab_limit: Some(self.format.tokenizer.vocab_size()),
                ..self.options.clone()
            },
        )?;
        let generation = &out[0];
        let ended = matches!(generation.stop, codex_model::StopReason::StopToken(_));
        let text = self.format.tokenizer.decode(&generation.tokens, true)?;
        let content =
            codex_core::apply_filter(&*self.filter, text, codex_core::Stage::Output, "reply")?;
        Ok(ChatReply {
            content,
            new_tokens: generation.tokens.len() + usize::from(ended),
            stop_reason: if ended { "end_of_turn" } else { "length" },
            prompt_redacted,
        })
    }
}

/// The special tokens a template writes right after an assistant's reply
/// (its end-of-turn tokens), found by rendering a probe conversation.
pub fn end_of_turn_tokens(format: &ChatFormat) -> Result<Vec<u32>, TrainError> {
    let probe = [
        serde_json::json!({"role": "user", "content": "Hi"}),
        serde_json::json!({"role": "assistant", "content": "Hello"}),
    ];
    let enc = format.encode(&probe, false, LossOn::Completion)?;
    let special = format.tokenizer.special_ids();
    Ok(enc
        .ids
        .iter()
        .zip(&enc.mask)
        .filter(|(id, m)| **m == 1 && special.binary_search(id).is_ok())
        .map(|(id, _)| *id)
        .collect())
}

/// One answered conversation of [`answer_records`]: the model's reply and
/// the record's own last reply, as `codex eval text` reads them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatPrediction {
    /// The model's reply.
    pub hypothesis: String,
    /// The record's last reply.
    pub references: Vec<String>,
    /// Why the reply ended: `end_of_turn` or `length`.
    pub stop_reason: &'static str,
}

/// Answers every record of a chat JSONL file (the shapes `data.format: chat`
/// reads) without its last reply, which becomes the reference. A record that
/// is not JSON or not a conversation ending with a reply is an input error
/// naming the file and line.
pub fn answer_records(
    session: &mut ChatSession,
    file: &Path,
) -> Result<Vec<ChatPrediction>, TrainError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| TrainError::input(file.display(), format!("cannot read: {e}")))?;
    let fields = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |message: String| TrainError::input(format!("{}:{}", file.display(), i + 1), message);
        let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut messages = codex_data::source::chat_messages(&value, &fields).map_err(bad)?;
        let reference = messages.pop().expect("a chat record ends with a reply");
        let reply = session.reply(&messages)?;
        out.push(ChatPrediction {
            hypothesis: reply.content,
            references: vec![reference["content"].as_str().unwrap_or_default().to_owned()],
            stop_reason: reply.stop_reason,
        });
    }
    Ok(out)
}
