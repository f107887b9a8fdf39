//! Score BLEU, chrF and ROUGE from strings in memory, as sacreBLEU and
//! rouge-score compute them. `cargo run --release --example score_text`

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use codex::eval::{Corpus, MetricSettings, registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = Corpus {
        hyps: vec![
            "The cat sat on the mat.".into(),
            "A quick brown fox jumps over the lazy dog.".into(),
        ],
        refs: vec![
            vec!["The cat is sitting on the mat.".into()],
            vec!["The quick brown fox jumped over the lazy dog.".into()],
        ],
    };
    let settings = MetricSettings::default();
    for name in ["bleu", "chrf", "rouge"] {
        let metric = (registry().get(name)?.value)(&settings);
        let scored = metric.score(&corpus)?;
        let values = scored.corpus(&vec![1; corpus.len()]);
        let shown: Vec<String> = scored
            .names()
            .iter()
            .zip(&values)
            .map(|(n, v)| format!("{n} {v:.4}"))
            .collect();
        println!("{name:<6} {}", shown.join("  "));
        if let Some(sig) = scored.signature(None) {
            println!("       signature {sig}");
        }
    }
    Ok(())
}
