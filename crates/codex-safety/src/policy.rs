//! Policy files: codex's YAML format, and gitleaks' TOML rule files.
//!
//! A policy is parsed into [`PolicyFile`] (plain data, every key checked, the
//! path of a bad key named) and compiled into a [`Policy`] (regexes built, the
//! id of a rule whose regex does not compile named).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use codex_core::Stage;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::SafetyError;

/// The default policy, `configs/safety/default.yaml`, compiled in.
pub const DEFAULT_POLICY_YAML: &str = include_str!("../../../configs/safety/default.yaml");

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Overlapping findings of other rules are suppressed.
    Allow,
    /// Record the finding; keep the text.
    Flag,
    /// Replace the match with `«REDACTED:KIND»`.
    Redact,
    /// Drop the whole text.
    Block,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Allow => "allow",
            Self::Flag => "flag",
            Self::Redact => "redact",
            Self::Block => "block",
        })
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Level {
    /// The core severity a finding of this level carries.
    pub fn severity(self) -> codex_core::Severity {
        match self {
            Self::Info | Self::Low => codex_core::Severity::Info,
            Self::Medium => codex_core::Severity::Warning,
            Self::High | Self::Critical => codex_core::Severity::Error,
        }
    }

    /// The SARIF level.
    pub fn sarif(self) -> &'static str {
        match self {
            Self::Info | Self::Low => "note",
            Self::Medium => "warning",
            Self::High | Self::Critical => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        })
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Self::Info),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(format!(
                "unknown severity `{s}`: expected info, low, medium, high or critical"
            )),
        }
    }
}

/// What a rule detects, for reports per kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Credentials and keys.
    #[default]
    Secret,
    /// Personal data.
    Pii,
    /// Prompt injection and jailbreaks.
    Injection,
    /// Anything else a policy adds.
    Custom,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Secret => "secret",
            Self::Pii => "pii",
            Self::Injection => "injection",
            Self::Custom => "custom",
        })
    }
}

/// A check of the matched text beyond the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validator {
    /// Payment card number: 13 to 19 digits, a card network's prefix, Luhn checksum.
    Luhn,
    /// US social security number outside the never-issued ranges.
    Ssn,
    /// IBAN with a valid ISO 13616 mod-97 checksum and length.
    Iban,
    /// An IPv4 or IPv6 address that parses, not unspecified.
    Ip,
    /// 8 to 15 digits (E.164), not all one digit.
    Phone,
}

fn all_stages() -> Vec<Stage> {
    vec![Stage::Data, Stage::Prompt, Stage::Output]
}

/// One rule as written in a policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id.
    pub id: String,
    /// Shown in `«REDACTED:KIND»` and reports; the id when absent.
    #[serde(default)]
    pub kind: Option<String>,
    /// What the rule detects.
    #[serde(default)]
    pub category: Category,
    /// A regular expression (Rust `regex` syntax; RE2-compatible).
    #[serde(default)]
    pub regex: Option<String>,
    /// A literal string, matched as is.
    #[serde(default)]
    pub literal: Option<String>,
    /// Lowercase keywords; the rule runs only near one of them (none: everywhere).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Capture group that is the secret (0: the whole match).
    #[serde(default)]
    pub group: usize,
    /// Minimum Shannon entropy (bits per character) of the group.
    #[serde(default)]
    pub min_entropy: Option<f64>,
    /// Extra check of the group.
    #[serde(default)]
    pub validate: Option<Validator>,
    /// A group containing one of these (case-insensitive) is not a finding.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Search up to 64 KiB around a keyword instead of its line.
    #[serde(default)]
    pub multiline: bool,
    /// A catch-all rule: its finding is dropped where a rule of the same
    /// category that is not a fallback matches an overlapping span.
    #[serde(default)]
    pub fallback: bool,
    /// What a match does.
    pub action: Action,
    /// Stages the rule applies to.
    #[serde(default = "all_stages")]
    pub stages: Vec<Stage>,
    /// How serious a match is.
    pub severity: Level,
}

/// The prompt-injection detector's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionSpec {
    /// Rule id of its findings.
    pub id: String,
    /// Kind of its findings.
    #[serde(default)]
    pub kind: Option<String>,
    /// What a match does.
    pub action: Action,
    /// Stages it applies to.
    #[serde(default = "all_stages")]
    pub stages: Vec<Stage>,
    /// Severity of a match.
    pub severity: Level,
    /// Phrases, matched after normalization (case, spacing, simple substitutions).
    pub phrases: Vec<String>,
}

/// Texts and paths that are never findings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// Matched texts equal to one of these are ignored.
    #[serde(default)]
    pub literals: Vec<String>,
    /// Matched texts matching one of these are ignored.
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Files matching one of these globs are not scanned.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Format version: 1.
    pub version: u32,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// The prompt-injection detector, if any.
    #[serde(default)]
    pub injection: Option<InjectionSpec>,
    /// Global allowlist.
    #[serde(default)]
    pub allow: AllowSpec,
}

impl PolicyFile {
    /// Parses codex's YAML policy format; errors name `origin` and the key path.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, SafetyError> {
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| SafetyError::Policy {
                origin: origin.to_owned(),
                key: String::new(),
                message: e.to_string(),
            })?;
        let file: Self =
            serde_path_to_error::deserialize(value).map_err(|e| SafetyError::Policy {
                origin: origin.to_owned(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        if file.version != 1 {
            return Err(SafetyError::Policy {
                origin: origin.to_owned(),
                key: "version".into(),
                message: format!(
                    "unsupported version {}; this codex reads version 1",
                    file.version
                ),
            });
        }
        Ok(file)
    }

    /// Parses a gitleaks TOML rule file: each rule redacts at every stage with
    /// high severity; rule and global allowlists (`regexes`, `stopwords`,
    /// `paths`) are kept.
    pub fn from_gitleaks_toml(text: &str, origin: &str) -> Result<Self, SafetyError> {
        let g: GitleaksFile = toml::from_str(text).map_err(|e| SafetyError::Policy {
            origin: origin.to_owned(),
            key: String::new(),
            message: e.to_string(),
        })?;
        let mut allow = AllowSpec::default();
        let mut rules = Vec::new();
        for (i, r) in g.rules.into_iter().enumerate() {
            let Some(regex) = r.regex else {
                // Path-only rules flag file names, which text scanning cannot.
                if r.path.is_some() {
                    continue;
                }
                return Err(SafetyError::Policy {
                    origin: origin.to_owned(),
                    key: format!("rules[{i}].regex"),
                    message: format!("rule `{}` has no regex", r.id),
                });
            };
            let mut stopwords = Vec::new();
            for a in r.allowlists.iter().chain(r.allowlist.as_ref()) {
                allow.regexes.extend(a.regexes.iter().cloned());
                stopwords.extend(a.stopwords.iter().cloned());
                allow
                    .paths
                    .extend(a.paths.iter().map(|p| format!("**/{p}")));
            }
            rules.push(RuleSpec {
                kind: Some(r.id.clone()),
                id: r.id,
                category: Category::Secret,
                regex: Some(regex),
                literal: None,
                keywords: r.keywords.iter().map(|k| k.to_lowercase()).collect(),
                group: r.secret_group.unwrap_or(0),
                min_entropy: r.entropy,
                validate: None,
                stopwords,
                multiline: false,
                fallback: false,
                action: Action::Redact,
                stages: all_stages(),
                severity: Level::High,
            });
        }
        for a in g.allowlist.iter().chain(&g.allowlists) {
            allow.regexes.extend(a.regexes.iter().cloned());
            allow.literals.extend(a.stopwords.iter().cloned());
            allow.paths.extend(a.paths.iter().cloned());
        }
        Ok(Self {
            version: 1,
            rules,
            injection: None,
            allow,
        })
    }

    /// Reads a policy file: `.toml` is gitleaks' format, anything else codex's YAML.
    pub fn load(path: &Path) -> Result<Self, SafetyError> {
        let text = std::fs::read_to_string(path).map_err(|e| SafetyError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        let origin = path.display().to_string();
        if path.extension().is_some_and(|e| e == "toml") {
            Self::from_gitleaks_toml(&text, &origin)
        } else {
            Self::from_yaml(&text, &origin)
        }
    }

    /// The default policy.
    pub fn default_policy() -> Self {
        Self::from_yaml(DEFAULT_POLICY_YAML, "configs/safety/default.yaml")
            .expect("the default policy is valid")
    }
}

#[derive(Debug, Deserialize)]
struct GitleaksFile {
    #[serde(default)]
    rules: Vec<GitleaksRule>,
    #[serde(default)]
    allowlist: Option<GitleaksAllow>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllow>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitleaksRule {
    id: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlist: Option<GitleaksAllow>,
    #[serde(default)]
    allowlists: Vec<GitleaksAllow>,
}

#[derive(Debug, Deserialize, Default)]
struct GitleaksAllow {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// As written.
    pub spec: RuleSpec,
    /// The compiled pattern (a literal is escaped).
    pub regex: Regex,
    /// Its kind (the id when the file gives none).
    pub kind: String,
    /// Lowercase stopwords.
    pub stopwords: Vec<String>,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// The injection detector.
    pub injection: Option<InjectionSpec>,
    /// Allowlisted literal matches.
    pub allow_literals: Vec<String>,
    /// Allowlisted match patterns.
    pub allow_regexes: Vec<Regex>,
    /// Paths never scanned.
    pub allow_paths: Vec<glob::Pattern>,
    /// Where it came from, for provenance and messages.
    pub origin: String,
    /// BLAKE3 of the policy's content (hex), for cache keys and provenance.
    pub digest: String,
}

impl Policy {
    /// Compiles a policy file: a regex that does not compile names its rule id.
    pub fn compile(file: PolicyFile, origin: &str) -> Result<Self, SafetyError> {
        let digest =
            codex_core::Digest::of(&serde_json::to_vec(&file).expect("policies serialize"))
                .to_hex();
        let mut rules = Vec::with_capacity(file.rules.len());
        let mut seen = std::collections::HashSet::new();
        for spec in file.rules {
            let bad = |message: String| SafetyError::Rule {
                origin: origin.to_owned(),
                id: spec.id.clone(),
                message,
            };
            if !seen.insert(spec.id.clone()) {
                return Err(bad("the id is used by another rule".into()));
            }
            let pattern = match (&spec.regex, &spec.literal) {
                (Some(r), None) => r.clone(),
                (None, Some(l)) => regex::escape(l),
                _ => return Err(bad("give exactly one of `regex` and `literal`".into())),
            };
            let regex = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 24)
                .build()
                .map_err(|e| bad(format!("regex does not compile: {e}")))?;
            if spec.group >= regex.captures_len() {
                return Err(bad(format!(
                    "group {} does not exist; the regex has {}",
                    spec.group,
                    regex.captures_len() - 1
                )));
            }
            if spec.stages.is_empty() {
                return Err(bad("`stages` is empty".into()));
            }
            if let Some(e) = spec.min_entropy
                && !(e.is_finite() && e >= 0.0)
            {
                return Err(bad(format!(
                    "min_entropy must be a non-negative number, got {e}"
                )));
            }
            rules.push(Rule {
                kind: spec.kind.clone().unwrap_or_else(|| spec.id.clone()),
                stopwords: spec.stopwords.iter().map(|s| s.to_lowercase()).collect(),
                regex,
                spec,
            });
        }
        let allow_regexes = file
            .allow
            .regexes
            .iter()
            .map(|r| {
                Regex::new(r).map_err(|e| SafetyError::Rule {
                    origin: origin.to_owned(),
                    id: "allow.regexes".into(),
                    message: format!("`{r}` does not compile: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        let allow_paths = file
            .allow
            .paths
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|e| SafetyError::Rule {
                    origin: origin.to_owned(),
                    id: "allow.paths".into(),
                    message: format!("`{p}` is not a glob: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        if let Some(inj) = &file.injection
            && inj.phrases.iter().all(|p| p.trim().is_empty())
        {
            return Err(SafetyError::Rule {
                origin: origin.to_owned(),
                id: inj.id.clone(),
                message: "the injection detector has no phrases".into(),
            });
        }
        Ok(Self {
            rules,
            injection: file.injection,
            allow_literals: file.allow.literals,
            allow_regexes,
            allow_paths,
            origin: origin.to_owned(),
            digest,
        })
    }

    /// Loads and compiles a policy file.
    pub fn load(path: &Path) -> Result<Self, SafetyError> {
        Self::compile(PolicyFile::load(path)?, &path.display().to_string())
    }

    /// The compiled default policy.
    pub fn default_policy() -> Self {
        Self::compile(PolicyFile::default_policy(), "configs/safety/default.yaml")
            .expect("the default policy compiles")
    }

    /// Whether a path is allowlisted.
    pub fn path_allowed(&self, path: &Path) -> bool {
        self.allow_paths.iter().any(|p| p.matches_path(path))
    }
}
