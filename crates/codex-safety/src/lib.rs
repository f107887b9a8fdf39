//! `codex-safety`: detectors and policies behind the `codex_core::TextFilter` trait.
//!
//! - [`policy`]: YAML policy files (and gitleaks TOML rule files), compiled
//!   into a [`Policy`]; the default policy is `configs/safety/default.yaml`;
//! - [`engine`]: the [`Scanner`]: an Aho-Corasick keyword prefilter, rule
//!   regexes searched only near their keywords, entropy and checksum checks,
//!   allow rules, the `codex:allow` marker, prompt-injection phrases matched
//!   after normalization, and the verdict (drop, redact as `«REDACTED:KIND»`,
//!   keep with flags);
//! - [`events`]: the audit trail, `safety/events.ndjson`, which never holds a
//!   matched secret;
//! - [`scan`]: files and directories for `codex safety scan` (binary files
//!   skipped, invalid UTF-8 scanned with byte offsets intact, large files in
//!   bounded memory), with table, JSON and SARIF output.
//!
//! May depend on `codex-core` and matching libraries; never on a tensor backend,
//! and no other codex crate depends on it except the binary, which plugs it into
//! data preparation and generation through the trait ([`filter_for`]). No
//! cargo features.
//!
//! ```
//! use codex_core::{Stage, TextFilter, Verdict};
//! use codex_safety::{Policy, Scanner};
//!
//! let scanner = Scanner::new(Policy::default_policy());
//! let out = scanner.filter("mail me at jane.roe@corp.io", Stage::Prompt);
//! assert!(matches!(out.verdict, Verdict::Redact(ref t) if t.contains("«REDACTED:email»")));
//! ```
//!
//! The workspace's `safety_policy` example scans text with a custom policy.

mod checks;
pub mod engine;
mod error;
pub mod events;
mod normalize;
pub mod policy;
pub mod scan;

pub use checks::{iban, luhn, shannon_entropy, ssn};
pub use engine::{Match, Scanned, Scanner};
pub use error::SafetyError;
pub use events::{EventLog, LoggedFilter};
pub use policy::{Action, Level, Policy, PolicyFile};

/// Environment variable naming a policy file.
pub const POLICY_ENV: &str = "CODEX_SAFETY_POLICY";
/// Environment variable that switches filtering off when `1`.
pub const BYPASS_ENV: &str = "CODEX_SAFETY_BYPASS";

/// The policy to use: `CODEX_SAFETY_POLICY`, else `configured`, else the default.
pub fn resolve_policy(configured: Option<&std::path::Path>) -> Result<Policy, SafetyError> {
    match std::env::var_os(POLICY_ENV).filter(|v| !v.is_empty()) {
        Some(p) => Policy::load(std::path::Path::new(&p)),
        None => match configured {
            Some(p) => Policy::load(p),
            None => Ok(Policy::default_policy()),
        },
    }
}

/// The policy a command uses: `flag` (its `--policy`), else
/// `CODEX_SAFETY_POLICY`, else `configured` (`safety.policy`), else the
/// built-in one.
pub fn policy_for(
    flag: Option<&std::path::Path>,
    configured: Option<&std::path::Path>,
) -> Result<Policy, SafetyError> {
    match flag {
        Some(p) => Policy::load(p),
        None => resolve_policy(configured),
    }
}

/// Whether `CODEX_SAFETY_BYPASS=1` is set.
pub fn bypassed() -> bool {
    std::env::var(BYPASS_ENV).is_ok_and(|v| v == "1")
}

/// The text filter a run uses for data, prompts and outputs: the policy's
/// scanner ([`resolve_policy`] of `safety.policy`), logging every decision
/// to `events` when given; pass-through when `safety.enabled` is false or
/// [`bypassed`] (the bypass itself is recorded in `events`).
pub fn filter_for(
    section: &codex_core::config::SafetySection,
    events: Option<&std::path::Path>,
) -> Result<Box<dyn codex_core::TextFilter>, SafetyError> {
    if bypassed() {
        if let Some(path) = events {
            EventLog::open(path)?.record_bypass("CODEX_SAFETY_BYPASS=1")?;
        }
        return Ok(Box::new(codex_core::PassThrough));
    }
    if !section.enabled {
        return Ok(Box::new(codex_core::PassThrough));
    }
    let scanner = Scanner::new(resolve_policy(section.policy.as_deref())?);
    Ok(match events {
        Some(path) => Box::new(LoggedFilter::new(scanner, EventLog::open(path)?)),
        None => Box::new(scanner),
    })
}
