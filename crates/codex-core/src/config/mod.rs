//! Layered configuration: embedded default → file → environment → command-line overrides.

mod issue;
mod load;
mod sections;
mod validate;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use issue::{ConfigIssue, Problem};
pub use load::{ConfigLoader, LoadedConfig, Origin};
pub use sections::{
    BleuSection, ChrfSection, DataFormat, DataSection, EarlyStopping, EvalInputSection,
    EvalSection, EvalTasks, LoraSection, LossOn, MetricMode, MlflowSection, ModelFamily,
    ModelSection, OnError, Overlong, Precision, RougeSection, RunSection, SafetySection, Schedule,
    TokenizerKind, TokenizerSection, TrackSection, TrainSection,
};

/// The embedded default configuration (`configs/default.yaml`), compiled in.
pub const DEFAULT_YAML: &str = include_str!("../../../../configs/default.yaml");

/// The whole configuration of a codex run, one section per consuming crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Run identity, seed, output directory and device.
    pub run: RunSection,
    /// Tokenizer (codex-tokenize).
    pub tokenizer: TokenizerSection,
    /// Data sources, splits and shards (codex-data).
    pub data: DataSection,
    /// Model architecture (codex-model).
    pub model: ModelSection,
    /// Training loop (codex-train).
    pub train: TrainSection,
    /// Evaluation (codex-eval).
    pub eval: EvalSection,
    /// Safety filtering (codex-safety).
    pub safety: SafetySection,
    /// Tracking and monitoring (codex-track).
    pub track: TrackSection,
}

impl AppConfig {
    /// Semantic checks that types cannot express; every failing key is reported.
    pub fn validate(&self) -> Result<(), Vec<ConfigIssue>> {
        let issues = validate::check(self);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }

    /// The configuration with every secret redacted (credentials in URIs,
    /// values under secret keys): what may be written to a file, shown or
    /// sent to a tracking server. See [`crate::redact`].
    pub fn redacted(&self) -> AppConfig {
        let mut v = serde_json::to_value(self).expect("AppConfig serializes to JSON");
        crate::redact::redact_json(&mut v);
        // Redaction only rewrites strings, so the shape still deserializes.
        serde_json::from_value(v).expect("a redacted AppConfig deserializes")
    }

    /// The resolved configuration as YAML, as written to a run's
    /// `config.yaml`: redacted ([`AppConfig::redacted`]), so no credential
    /// reaches a file or a terminal.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.redacted()).expect("AppConfig serializes to YAML")
    }

    /// JSON Schema of a configuration file: every key is optional in a file,
    /// since lower layers supply the rest, and unknown keys are rejected.
    pub fn json_schema() -> serde_json::Value {
        let mut schema = serde_json::to_value(schemars::schema_for!(AppConfig))
            .expect("schema serializes to JSON");
        strip_required(&mut schema);
        schema
    }
}

fn strip_required(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("required");
            map.values_mut().for_each(strip_required);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_required),
        _ => {}
    }
}
