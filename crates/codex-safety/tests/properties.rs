//! Properties of redaction over generated text (a fixed seed: every run draws
//! the same cases): a secret placed anywhere in any text is found, and the
//! redacted text holds neither the secret nor anything the policy would
//! still redact.

use codex_safety::{Action, Policy, Scanner};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x5AFE_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Secrets of a few kinds, random in their free parts.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "AKIA[A-Z2-7]{16}",
        "ghp_[A-Za-z0-9]{36}",
        "[a-z]{3,8}\\.[a-z]{3,8}@[a-z]{4,9}\\.(com|io|net)",
    ]
}

/// Text around it: words, punctuation and line breaks, never glued to the
/// secret (a separator on each side).
fn around() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["[a-z]{1,7}", "[ ,.;:\\n]{1,2}"], 0..12)
        .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn redaction_leaves_no_secret_behind(
        before in around(),
        secret in secret(),
        after in around(),
    ) {
        let scanner = Scanner::new(Policy::default_policy());
        let text = format!("{before} {secret} {after}");
        let found = scanner.scan(&text, None);
        prop_assert!(
            found.iter().any(|m| text[m.span.clone()].contains(&secret)),
            "{secret:?} not found in {text:?}"
        );
        let redacted = Scanner::redact(&text, &found);
        prop_assert!(!redacted.contains(&secret), "{redacted:?}");
        let again = scanner.scan(&redacted, None);
        prop_assert!(
            again
                .iter()
                .all(|m| !matches!(m.action, Action::Redact | Action::Block)),
            "{redacted:?} still has {again:?}"
        );
    }
}
