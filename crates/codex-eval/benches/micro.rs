//! Micro-benchmarks of corpus scoring: BLEU, chrF and ROUGE on generated
//! sentence pairs. `cargo bench -p codex-eval --bench micro` (or
//! `cargo xtask bench micro`).

use codex_core::config::ConfigLoader;
use codex_eval::{Corpus, registry};
use criterion::{Criterion, criterion_group, criterion_main};

fn corpus(n: usize) -> Corpus {
    let words = [
        "the", "river", "ran", "past", "a", "quiet", "stone", "bridge", "under", "grey", "sky",
        "and", "birds", "sang", "softly", "near", "old", "trees",
    ];
    let sentence = |seed: usize, len: usize| -> String {
        (0..len)
            .map(|i| words[(seed * 31 + i * 17) % words.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    Corpus {
        hyps: (0..n).map(|i| sentence(i, 12 + i % 9)).collect(),
        refs: (0..n).map(|i| vec![sentence(i + 1, 12 + i % 7)]).collect(),
    }
}

fn score(c: &mut Criterion) {
    let cfg = ConfigLoader::new().load().unwrap().config;
    let settings = codex_eval::job::settings(&cfg.eval).unwrap();
    let corpus = corpus(1000);
    let mut group = c.benchmark_group("score 1000 segments");
    for name in ["bleu", "chrf", "rouge"] {
        let metric = (registry().get(name).unwrap().value)(&settings);
        group.bench_function(name, |b| {
            b.iter(|| std::hint::black_box(metric.score(&corpus).unwrap()));
        });
    }
    group.finish();
}

criterion_group!(benches, score);
criterion_main!(benches);
