//! Building the layered figment and turning its errors into [`ConfigIssue`]s.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::issue::{ConfigIssue, Problem};
use super::{AppConfig, DEFAULT_YAML};
use crate::error::{Error, Result};
use crate::registry::nearest;

/// Which layer set a configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The embedded `configs/default.yaml`.
    Embedded,
    /// A `--config` file.
    File(PathBuf),
    /// An environment variable `CODEX_<SECTION>__<KEY>`.
    Env(String),
    /// A command-line override `key.path=value`.
    Override(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded default"),
            Origin::File(p) => write!(f, "file `{}`", p.display()),
            Origin::Env(var) => write!(f, "environment variable `{var}`"),
            Origin::Override(text) => write!(f, "command-line override `{text}`"),
        }
    }
}

/// One configuration layer as a figment provider, named after its exact origin.
struct Layer {
    origin: Origin,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.to_string())
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Collects the layers of a configuration and resolves them into an [`AppConfig`].
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    overrides: Vec<String>,
}

/// Prefix of configuration environment variables; `__` separates nesting levels.
pub(crate) const ENV_PREFIX: &str = "CODEX_";

impl ConfigLoader {
    /// A loader with only the embedded default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a YAML (`.yaml`, `.yml`) or TOML (`.toml`) file above the default.
    #[must_use]
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Adds environment variables; only `CODEX_<SECTION>__<KEY>` names (with a
    /// `__`) are configuration, so `CODEX_SAFETY_POLICY` and the like are left alone.
    #[must_use]
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
            .collect();
        self.env.sort();
        self
    }

    /// Adds this process's environment (see [`ConfigLoader::env`]).
    #[must_use]
    pub fn process_env(self) -> Self {
        self.env(std::env::vars())
    }

    /// Adds command-line overrides `key.path=value`, applied in order, last wins.
    #[must_use]
    pub fn overrides<S: Into<String>>(mut self, overrides: impl IntoIterator<Item = S>) -> Self {
        self.overrides.extend(overrides.into_iter().map(Into::into));
        self
    }

    /// Parses every layer, merges them and checks the result, types and rules both.
    pub fn load(&self) -> Result<LoadedConfig> {
        let defaults = parse_yaml(DEFAULT_YAML, Path::new("configs/default.yaml"))?;
        let layer = |origin: Origin, mut dict: Dict| {
            lists_stay_lists(&mut dict, &defaults);
            Layer { origin, dict }
        };
        let mut figment = Figment::new().merge(Layer {
            origin: Origin::Embedded,
            dict: defaults.clone(),
        });
        if let Some(path) = &self.file {
            figment = figment.merge(layer(Origin::File(path.clone()), read_file(path)?));
        }
        for (var, text) in &self.env {
            let key = var[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            let dict = nest(&key, parse_value(text), var)?;
            figment = figment.merge(layer(Origin::Env(var.clone()), dict));
        }
        for text in &self.overrides {
            let (key, value) = text
                .split_once('=')
                .ok_or_else(|| Error::OverrideSyntax { text: text.clone() })?;
            let dict = nest(key.trim(), parse_value(value), text)?;
            figment = figment.merge(layer(Origin::Override(text.clone()), dict));
        }

        let config: AppConfig = match figment.extract() {
            Ok(c) => c,
            Err(e) => {
                return Err(Error::Config {
                    issues: every_issue(&figment, issues_from_figment(e)),
                });
            }
        };
        let embedded: Option<AppConfig> = Figment::new()
            .merge(Layer {
                origin: Origin::Embedded,
                dict: defaults.clone(),
            })
            .extract()
            .ok();
        let mut loaded = LoadedConfig {
            config,
            figment,
            adjustments: Vec::new(),
        };
        loaded.fit_defaults(embedded.as_ref());
        if let Err(mut issues) = loaded.config.validate() {
            for issue in &mut issues {
                issue.origin = Some(loaded.origin(&issue.path).to_string());
            }
            return Err(Error::Config { issues });
        }
        Ok(loaded)
    }
}

/// A resolved configuration that remembers which layer set each value.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The resolved, validated configuration.
    pub config: AppConfig,
    figment: Figment,
    adjustments: Vec<String>,
}

impl LoadedConfig {
    /// Defaults changed to fit what the user set, each said in words (the
    /// caller shows them as warnings); the resolved configuration holds the
    /// changed values.
    pub fn adjustments(&self) -> &[String] {
        &self.adjustments
    }

    /// A default that contradicts a value the user set is fitted to it
    /// rather than refused: the default warmup (50 steps) under
    /// `train.max_steps=5` becomes a tenth of the steps.
    fn fit_defaults(&mut self, embedded: Option<&AppConfig>) {
        let train = &mut self.config.train;
        if train.warmup_steps > train.max_steps
            && self
                .figment
                .find_metadata("train.warmup_steps")
                .map(|m| m.name.as_ref())
                == Some(Origin::Embedded.to_string().as_str())
        {
            let fitted = train.max_steps / 10;
            self.adjustments.push(format!(
                "train.warmup_steps: the default {} is more than train.max_steps ({}), so warmup is {fitted} steps (a tenth); set train.warmup_steps to choose",
                train.warmup_steps, train.max_steps
            ));
            train.warmup_steps = fitted;
        }
        // Chat settings on text data do nothing: said, not silently ignored
        // (a value other than the embedded default's is one the user chose).
        if self.config.data.format != super::DataFormat::Chat
            && let Some(embedded) = embedded
        {
            let ours = serde_json::to_value(&self.config).unwrap_or_default();
            let theirs = serde_json::to_value(embedded).unwrap_or_default();
            for key in [
                "train.loss_on",
                "train.packing",
                "data.chat_template",
                "data.chat_fields",
                "data.max_length",
                "data.overlong",
            ] {
                let pointer = format!("/{}", key.replace('.', "/"));
                if ours.pointer(&pointer) != theirs.pointer(&pointer) {
                    self.adjustments.push(format!(
                        "{key} applies to data.format: chat only; it is ignored here"
                    ));
                }
            }
        }
    }

    /// The layer that set the value at a dotted key path.
    pub fn origin(&self, path: &str) -> Origin {
        let name = self
            .figment
            .find_metadata(path)
            .map(|m| m.name.to_string())
            .unwrap_or_default();
        origin_from_name(&name)
    }

    /// `key  value  layer` for every leaf, aligned, values redacted
    /// (`codex config show --origin`).
    pub fn origin_table(&self) -> String {
        let rows: Vec<(String, String, String)> = self
            .leaves()
            .into_iter()
            .map(|(path, value, origin)| {
                let value = crate::redact::redact_text(&value.to_string()).into_owned();
                (path, value, origin.to_string())
            })
            .collect();
        let key_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let val_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        rows.into_iter()
            .map(|(k, v, o)| format!("{k:key_w$}  {v:val_w$}  {o}\n"))
            .collect()
    }

    /// Every leaf of the resolved configuration (scalars and whole lists) in key
    /// order, with its value as JSON and the layer that set it.
    pub fn leaves(&self) -> Vec<(String, serde_json::Value, Origin)> {
        let json = serde_json::to_value(&self.config).expect("AppConfig serializes to JSON");
        let mut out = Vec::new();
        flatten(String::new(), &json, &mut out);
        out.into_iter()
            .map(|(path, value)| {
                let origin = self.origin(&path);
                (path, value, origin)
            })
            .collect()
    }
}

fn origin_from_name(name: &str) -> Origin {
    // Metadata names are exactly `Origin`'s Display, so parse them back.
    let inner = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|s| s.strip_prefix('`'))
            .and_then(|s| s.strip_suffix('`'))
            .map(str::to_owned)
    };
    if let Some(p) = inner("file ") {
        Origin::File(PathBuf::from(p))
    } else if let Some(v) = inner("environment variable ") {
        Origin::Env(v)
    } else if let Some(o) = inner("command-line override ") {
        Origin::Override(o)
    } else {
        Origin::Embedded
    }
}

fn flatten(prefix: String, value: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(path, v, out);
            }
        }
        _ => out.push((prefix, value.clone())),
    }
}

fn read_file(path: &Path) -> Result<Dict> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let format_is_toml = match ext.as_deref() {
        Some("yaml" | "yml") => false,
        Some("toml") => true,
        _ => return Err(Error::ConfigFormat { path: path.into() }),
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read config file", path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::ConfigParse {
        path: path.into(),
        format: if format_is_toml { "TOML" } else { "YAML" },
        message: format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })?;
    if format_is_toml {
        toml::from_str::<Dict>(&text).map_err(|e| Error::ConfigParse {
            path: path.into(),
            format: "TOML",
            message: e.to_string().trim().to_owned(),
        })
    } else {
        parse_yaml(&text, path)
    }
}

fn parse_yaml(text: &str, path: &Path) -> Result<Dict> {
    let value: Value = serde_saphyr::from_str(text).map_err(|e| Error::ConfigParse {
        path: path.into(),
        format: "YAML",
        message: e.to_string().trim().to_owned(),
    })?;
    match value {
        Value::Dict(_, dict) => Ok(dict),
        Value::Empty(..) => Ok(Dict::new()),
        other => Err(Error::ConfigParse {
            path: path.into(),
            format: "YAML",
            message: format!(
                "the top level must be a mapping of sections, found {}",
                other.to_actual()
            ),
        }),
    }
}

/// Parses an environment or override value as a YAML scalar or flow collection,
/// so `3e-4` is a number, `true` a boolean, `[a, b]` a list and `null` nothing.
/// Text that is not valid YAML is taken as a plain string.
fn parse_value(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|_| Value::from(text.to_owned()))
}

fn nest(key: &str, value: Value, source: &str) -> Result<Dict> {
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.trim().is_empty()) {
        return Err(Error::OverrideSyntax {
            text: source.to_owned(),
        });
    }
    let mut value = value;
    for seg in segments.iter().skip(1).rev() {
        let mut d = Dict::new();
        d.insert((*seg).to_owned(), value);
        value = Value::from(d);
    }
    let mut top = Dict::new();
    top.insert(segments[0].to_owned(), value);
    Ok(top)
}

/// A single value where the default holds a list is read as a one-item
/// list, so `data.sources=docs.jsonl` means `[docs.jsonl]`.
fn lists_stay_lists(dict: &mut Dict, defaults: &Dict) {
    for (key, value) in dict.iter_mut() {
        match (defaults.get(key), value) {
            (Some(Value::Dict(_, d)), Value::Dict(_, inner)) => lists_stay_lists(inner, d),
            (Some(Value::Array(..)), value)
                if !matches!(value, Value::Array(..) | Value::Dict(..) | Value::Empty(..)) =>
            {
                let tag = value.tag();
                let one = std::mem::replace(value, Value::Empty(tag, figment::value::Empty::None));
                *value = Value::Array(tag, vec![one]);
            }
            _ => {}
        }
    }
}

/// Every problem of a configuration whose extraction failed with `first`:
/// the offending keys are taken out (an unknown key) or put back to their
/// default (a bad value) and extraction is tried again, until it passes;
/// then the rules are checked on what remains. So one `codex config
/// validate` names every wrong key, not only the first.
fn every_issue(figment: &Figment, first: Vec<ConfigIssue>) -> Vec<ConfigIssue> {
    let Ok(mut merged) = figment.extract::<Dict>() else {
        return first;
    };
    let defaults = parse_yaml(DEFAULT_YAML, Path::new("configs/default.yaml")).unwrap_or_default();
    let origin = |path: &str| {
        let name = figment.find_metadata(path).map(|m| m.name.to_string());
        name.unwrap_or_else(|| Origin::Embedded.to_string())
    };
    let mut issues: Vec<ConfigIssue> = Vec::new();
    let mut pending = first;
    for _ in 0..64 {
        if pending.is_empty() {
            break;
        }
        for issue in pending.drain(..) {
            let path: Vec<&str> = issue.path.split('.').collect();
            match lookup(&defaults, &path) {
                Some(default) if !matches!(issue.problem, Problem::UnknownKey { .. }) => {
                    set_path(&mut merged, &path, default.clone());
                }
                _ => remove_path(&mut merged, &path),
            }
            if !issues.iter().any(|i| i.path == issue.path) {
                issues.push(issue);
            }
        }
        match Figment::from(figment::providers::Serialized::defaults(&merged))
            .extract::<AppConfig>()
        {
            Ok(config) => {
                for mut issue in config.validate().err().unwrap_or_default() {
                    if !issues.iter().any(|i| i.path == issue.path) {
                        issue.origin = Some(origin(&issue.path));
                        issues.push(issue);
                    }
                }
                break;
            }
            Err(e) => {
                pending = issues_from_figment(e)
                    .into_iter()
                    .map(|mut i| {
                        i.origin = Some(origin(&i.path));
                        i
                    })
                    .filter(|i| !issues.iter().any(|j| j.path == i.path))
                    .collect();
            }
        }
    }
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    issues
}

fn lookup<'a>(dict: &'a Dict, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = dict.get(*first)?;
    if rest.is_empty() {
        return Some(v);
    }
    match v {
        Value::Dict(_, d) => lookup(d, rest),
        _ => None,
    }
}

fn remove_path(dict: &mut Dict, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            dict.remove(*last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Dict(_, d)) = dict.get_mut(*first) {
                remove_path(d, rest);
            }
        }
    }
}

fn set_path(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            if let Some(Value::Dict(_, d)) = dict.get_mut(*first) {
                set_path(d, rest, value);
            }
        }
    }
}

fn describe_expected(expected: &str) -> String {
    match expected {
        "f32" | "f64" => "a floating point number".into(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".into(),
        "a boolean" | "bool" => "a boolean (true or false)".into(),
        other => other.to_owned(),
    }
}

fn issues_from_figment(err: figment::Error) -> Vec<ConfigIssue> {
    use figment::error::Kind;
    err.into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let problem = match &e.kind {
                Kind::UnknownField(field, expected) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    let parent = &path[..path.len() - 1];
                    let suggestion = nearest(field, expected.iter().copied()).map(|s| {
                        parent
                            .iter()
                            .map(String::as_str)
                            .chain([s.as_str()])
                            .collect::<Vec<_>>()
                            .join(".")
                    });
                    Problem::UnknownKey { suggestion }
                }
                Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                    Problem::InvalidType {
                        expected: describe_expected(expected),
                        found: actual.to_string(),
                    }
                }
                Kind::UnknownVariant(found, allowed) => Problem::UnknownVariant {
                    found: found.clone(),
                    allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
                    suggestion: nearest(found, allowed.iter().copied()),
                },
                Kind::MissingField(name) => {
                    if path.last().map(String::as_str) != Some(name.as_ref()) {
                        path.push(name.to_string());
                    }
                    Problem::Missing
                }
                Kind::Message(m) => Problem::Invalid { message: m.clone() },
                other => Problem::Invalid {
                    message: other.to_string(),
                },
            };
            ConfigIssue {
                path: path.join("."),
                problem,
                origin: e.metadata.as_ref().map(|m| m.name.to_string()),
            }
        })
        .collect()
}
