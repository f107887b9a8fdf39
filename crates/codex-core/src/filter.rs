//! The text-filter seam: `codex-data` and `codex generate` call it, `codex-safety` implements it.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Severity;

/// Where in the pipeline a text is being filtered; policies choose rules per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A training or evaluation document.
    Data,
    /// A prompt given to the model.
    Prompt,
    /// Text the model generated.
    Output,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Data => "data",
            Stage::Prompt => "prompt",
            Stage::Output => "output",
        })
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "data" => Ok(Stage::Data),
            "prompt" => Ok(Stage::Prompt),
            "output" => Ok(Stage::Output),
            _ => Err(format!("a stage is data, prompt or output, got `{s}`")),
        }
    }
}

/// What a filter decided about one text as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use the text unchanged (possibly with flags in the findings).
    Keep,
    /// Use this rewritten text instead (spans replaced by `«REDACTED:KIND»`).
    Redact(String),
    /// Do not use the text at all.
    Drop,
}

/// One rule that matched.
///
/// Invariant: a finding never holds the matched text itself, only where it was
/// and a hash of it, so findings can be logged without leaking secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's identifier in its policy.
    pub rule_id: String,
    /// What was found, e.g. `aws-access-key` or `email`.
    pub kind: String,
    /// Byte range of the match in the filtered text.
    pub span: Range<usize>,
    /// How serious the rule says the match is.
    pub severity: Severity,
    /// BLAKE3 of the matched bytes, hex.
    pub match_hash: String,
}

/// The verdict and every finding behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filtered {
    /// What to do with the text.
    pub verdict: Verdict,
    /// The matches that led to the verdict, in text order.
    pub findings: Vec<Finding>,
    /// Matches the policy saw and deliberately let through (an allowlist, a
    /// documentation example, an inline marker), so the user can be told.
    pub allowlisted: usize,
}

impl Filtered {
    /// A verdict with the findings behind it, nothing allowlisted.
    pub fn new(verdict: Verdict, findings: Vec<Finding>) -> Self {
        Self {
            verdict,
            findings,
            allowlisted: 0,
        }
    }

    /// Keep the text, nothing found.
    pub fn keep() -> Self {
        Self::new(Verdict::Keep, Vec::new())
    }
}

/// A filter over texts at a pipeline stage.
pub trait TextFilter: Send + Sync {
    /// Short name for manifests and logs.
    fn name(&self) -> &str;

    /// Decides about one text.
    fn filter(&self, text: &str, stage: Stage) -> Filtered;

    /// [`filter`](Self::filter) for a text whose origin is known (a file
    /// and line, `path:line`), so a filter that keeps an audit trail can say
    /// where each decision came from. The default ignores the origin.
    fn filter_at(&self, text: &str, stage: Stage, origin: &str) -> Filtered {
        let _ = origin;
        self.filter(text, stage)
    }

    /// Identifies the filter's behaviour (its name and, e.g., a hash of its
    /// policy), so that cached results made with another filter are rebuilt.
    fn fingerprint(&self) -> String {
        self.name().to_owned()
    }
}

/// A text the filter said to drop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} was blocked by the safety policy (rules: {})", rules.join(", "))]
pub struct Blocked {
    /// What was filtered, e.g. `prompt`.
    pub what: String,
    /// The rules that matched.
    pub rules: Vec<String>,
}

/// `text` after `filter` at `stage`: unchanged, redacted, or [`Blocked`]
/// naming the rules; `what` names the text in the error (`prompt`).
pub fn apply_filter(
    filter: &dyn TextFilter,
    text: String,
    stage: Stage,
    what: &str,
) -> Result<String, Blocked> {
    let filtered = filter.filter(&text, stage);
    match filtered.verdict {
        Verdict::Keep => Ok(text),
        Verdict::Redact(t) => Ok(t),
        Verdict::Drop => Err(Blocked {
            what: what.to_owned(),
            rules: filtered.findings.into_iter().map(|f| f.rule_id).collect(),
        }),
    }
}

/// Keeps every text unchanged; the filter used when safety filtering is off.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl TextFilter for PassThrough {
    fn name(&self) -> &str {
        "pass-through"
    }

    fn filter(&self, _text: &str, _stage: Stage) -> Filtered {
        Filtered::keep()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_through_keeps_everything_at_every_stage() {
        let f: &dyn TextFilter = &PassThrough;
        for stage in [Stage::Data, Stage::Prompt, Stage::Output] {
            assert_eq!(f.filter("AKIA0000 secret", stage), Filtered::keep());
        }
        assert_eq!(f.name(), "pass-through");
    }
}
