//! Scan text with a custom safety policy: a rule of your own beside the
//! built-in detectors' kinds, and what each stage does with a match.
//! `cargo run --release --example safety_policy`

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use codex::core::{Stage, TextFilter, Verdict};
use codex::safety::{Policy, PolicyFile, Scanner};

/// Employee ids are internal: redact them in prompts and outputs, and
/// drop training documents that hold them.
const POLICY: &str = r#"
version: 1
rules:
  - id: employee-id
    kind: employee-id
    category: pii
    regex: '\b(EMP-[0-9]{6})\b'
    keywords: [emp-]
    group: 1
    action: redact
    severity: high
    stages: [prompt, output]
  - id: employee-id-in-data
    kind: employee-id
    category: pii
    regex: '\b(EMP-[0-9]{6})\b'
    keywords: [emp-]
    group: 1
    action: block
    severity: high
    stages: [data]
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = PolicyFile::from_yaml(POLICY, "example policy")?;
    let scanner = Scanner::new(Policy::compile(file, "example policy")?);
    let text = "Ask EMP-004211 about the release.";
    for stage in [Stage::Prompt, Stage::Data] {
        let filtered = scanner.filter(text, stage);
        let what = match &filtered.verdict {
            Verdict::Keep => "kept".to_owned(),
            Verdict::Redact(t) => format!("redacted to {t:?}"),
            Verdict::Drop => "dropped".to_owned(),
        };
        println!("{stage:<6} {what}");
        for f in &filtered.findings {
            // A finding carries the span and a hash, never the matched text.
            println!(
                "       {} at bytes {:?} (blake3 {}…)",
                f.rule_id,
                f.span,
                &f.match_hash[..12]
            );
        }
    }
    Ok(())
}
