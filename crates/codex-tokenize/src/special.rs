//! The special tokens a Hugging Face tokenizer directory declares:
//! `tokenizer_config.json` (and `special_tokens_map.json`), where
//! `transformers` reads `bos_token`, `eos_token`, `pad_token` and `unk_token`.

use std::path::Path;

use serde::Serialize;

use crate::error::TokenizeError;

/// The roles of a tokenizer's special tokens, as their strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpecialTokens {
    /// Beginning of sequence.
    pub bos: Option<String>,
    /// End of sequence: what codex separates documents with and stops generating at.
    pub eos: Option<String>,
    /// Padding.
    pub pad: Option<String>,
    /// Unknown.
    pub unk: Option<String>,
}

/// A token written as a string or as `{"content": "..."}` (an `AddedToken`).
fn token(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

impl SpecialTokens {
    /// What `dir` declares: `tokenizer_config.json` first, then
    /// `special_tokens_map.json` for roles it leaves out; `None` when neither
    /// file exists. A file that is not JSON is an error naming it.
    pub fn read(dir: &Path) -> Result<Option<Self>, TokenizeError> {
        let mut found = None::<Self>;
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let path = dir.join(name);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(TokenizeError::Io { path, source }),
            };
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| TokenizeError::Load {
                    path: path.clone(),
                    message: format!("not valid JSON: {e}"),
                })?;
            let s = found.get_or_insert_with(Self::default);
            for (slot, key) in [
                (&mut s.bos, "bos_token"),
                (&mut s.eos, "eos_token"),
                (&mut s.pad, "pad_token"),
                (&mut s.unk, "unk_token"),
            ] {
                if slot.is_none() {
                    *slot = token(v.get(key));
                }
            }
        }
        Ok(found)
    }

    /// The roles of a tokenizer codex trained with `specials` (the
    /// configuration's `tokenizer.special_tokens`): the first ends a
    /// document, one named like padding pads.
    pub fn from_specials(specials: &[String]) -> Self {
        Self {
            bos: None,
            eos: specials.first().cloned(),
            pad: specials.iter().find(|t| t.contains("pad")).cloned(),
            unk: None,
        }
    }

    /// `tokenizer_config.json` for a tokenizer codex trained: the fast
    /// tokenizer class and these roles, so `transformers` knows them.
    pub fn tokenizer_config(&self, model_max_length: usize) -> serde_json::Value {
        serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self.bos,
            "eos_token": self.eos,
            "pad_token": self.pad,
            "unk_token": self.unk,
            "model_max_length": model_max_length,
            "clean_up_tokenization_spaces": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_the_config_then_the_map() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SpecialTokens::read(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"eos_token": "</s>", "bos_token": {"content": "<s>", "lstrip": false}, "pad_token": null}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("special_tokens_map.json"),
            r#"{"pad_token": "<pad>", "eos_token": "<ignored>", "unk_token": "<unk>"}"#,
        )
        .unwrap();
        let s = SpecialTokens::read(dir.path()).unwrap().unwrap();
        assert_eq!(
            s,
            SpecialTokens {
                bos: Some("<s>".into()),
                eos: Some("</s>".into()),
                pad: Some("<pad>".into()),
                unk: Some("<unk>".into()),
            }
        );
        std::fs::write(dir.path().join("tokenizer_config.json"), "{not json").unwrap();
        let err = SpecialTokens::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tokenizer_config.json"), "{err}");
    }
}
