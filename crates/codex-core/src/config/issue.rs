//! One configuration problem, with the key path, what is wrong, and which layer set it.

use std::fmt;

use serde::Serialize;

/// What is wrong with a configuration key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Problem {
    /// The key does not exist; `suggestion` is the nearest existing key at that level.
    UnknownKey {
        /// Nearest known key, when one is close.
        suggestion: Option<String>,
    },
    /// The value has the wrong type.
    InvalidType {
        /// What the key takes, e.g. "a floating point number".
        expected: String,
        /// What was given, e.g. `string "abc"`.
        found: String,
    },
    /// The value is not one of the allowed names.
    UnknownVariant {
        /// What was given.
        found: String,
        /// The allowed names.
        allowed: Vec<String>,
        /// The nearest allowed name, when one is close.
        suggestion: Option<String>,
    },
    /// A required key is absent from every layer.
    Missing,
    /// The value has the right type but breaks a rule, e.g. "must be > 0".
    Invalid {
        /// The rule that failed, as a lowercase sentence.
        message: String,
    },
}

/// A problem at a key path, with the layer that set the offending value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    /// Dotted key path, e.g. `train.lr`.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
    /// Which layer set the value, e.g. "environment variable `CODEX_TRAIN__LR`".
    pub origin: Option<String>,
}

impl ConfigIssue {
    /// A rule violation at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: Problem::Invalid {
                message: message.into(),
            },
            origin: None,
        }
    }

    /// All issues, one per line.
    pub fn render_all(issues: &[ConfigIssue]) -> String {
        match issues {
            [one] => format!("invalid configuration: {one}"),
            _ => {
                let mut s = format!("invalid configuration ({} problems):", issues.len());
                for i in issues {
                    s.push_str("\n  - ");
                    s.push_str(&i.to_string());
                }
                s
            }
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::UnknownKey { suggestion } => {
                write!(f, "unknown key `{}`", self.path)?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
            }
            Problem::InvalidType { expected, found } => {
                write!(f, "`{}` expects {expected}, found {found}", self.path)?;
            }
            Problem::UnknownVariant {
                found,
                allowed,
                suggestion,
            } => {
                write!(
                    f,
                    "`{}` must be one of {}, found `{found}`",
                    self.path,
                    allowed.join(", ")
                )?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
            }
            Problem::Missing => write!(f, "missing key `{}`", self.path)?,
            Problem::Invalid { message } => write!(f, "`{}` {message}", self.path)?,
        }
        if let Some(origin) = &self.origin {
            write!(f, " [set by {origin}]")?;
        }
        Ok(())
    }
}
