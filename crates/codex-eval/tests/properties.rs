//! Properties of the text metrics over generated corpora (a fixed seed:
//! every run draws the same cases): a hypothesis scored against itself is
//! perfect, corpus scores do not depend on the order of the segments, and a
//! bootstrap interval holds the point estimate.

use codex_core::config::ConfigLoader;
use codex_eval::runner::{EvalOptions, summarize};
use codex_eval::{Corpus, registry};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0xE7A1_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

fn metric(name: &str) -> Box<dyn codex_eval::Metric> {
    let cfg = ConfigLoader::new().load().unwrap().config;
    let settings = codex_eval::job::settings(&cfg.eval).unwrap();
    (registry().get(name).unwrap().value)(&settings)
}

/// Segments of four to twelve words.
fn segments() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        proptest::collection::vec("[a-z]{1,6}", 4..12).prop_map(|w| w.join(" ")),
        1..10,
    )
}

fn options(bootstrap: usize) -> EvalOptions {
    EvalOptions {
        dataset: "p".into(),
        split: "test".into(),
        bootstrap,
        confidence: 0.95,
        seed: 7,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_hypothesis_against_itself_is_perfect(hyps in segments()) {
        let corpus = Corpus {
            refs: hyps.iter().map(|h| vec![h.clone()]).collect(),
            hyps,
        };
        for name in ["bleu", "chrf", "rouge", "em", "f1"] {
            let scored = metric(name).score(&corpus).unwrap();
            let headline = scored.corpus(&vec![1; scored.len()])[0];
            let perfect = if name == "rouge" { 1.0 } else { 100.0 };
            prop_assert!((headline - perfect).abs() < 1e-9, "{name}: {headline}");
        }
    }

    #[test]
    fn corpus_scores_ignore_the_order_of_segments(
        hyps in segments(),
        refs in segments(),
        rotate in 0usize..10,
    ) {
        let n = hyps.len().min(refs.len());
        let corpus = |shift: usize| Corpus {
            hyps: (0..n).map(|i| hyps[(i + shift) % n].clone()).collect(),
            refs: (0..n).map(|i| vec![refs[(i + shift) % n].clone()]).collect(),
        };
        for name in ["bleu", "chrf", "rouge", "f1"] {
            let m = metric(name);
            let a = m.score(&corpus(0)).unwrap();
            let b = m.score(&corpus(rotate % n)).unwrap();
            let (a, b) = (a.corpus(&vec![1; n]), b.corpus(&vec![1; n]));
            for (x, y) in a.iter().zip(&b) {
                prop_assert!((x - y).abs() < 1e-9, "{name}: {a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn the_bootstrap_interval_holds_the_point_estimate(hyps in segments(), refs in segments()) {
        let n = hyps.len().min(refs.len());
        prop_assume!(n >= 3);
        let corpus = Corpus {
            hyps: hyps[..n].to_vec(),
            refs: refs[..n].iter().map(|r| vec![r.clone()]).collect(),
        };
        for name in ["chrf", "f1"] {
            let scored = metric(name).score(&corpus).unwrap();
            let result = summarize(name, &*scored, &options(200));
            let (value, interval) = (result.values[0].1, &result.intervals[0]);
            prop_assert!(
                interval.low <= value + 1e-9 && value <= interval.high + 1e-9,
                "{name}: {value} outside [{}, {}]",
                interval.low,
                interval.high
            );
        }
    }
}
