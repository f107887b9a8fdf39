//! Micro-benchmarks of encoding: byte-level BPE (the fast path and the
//! library) and SentencePiece Unigram, on the test corpus.
//! `cargo bench -p codex-tokenize --bench micro` (or `cargo xtask bench micro`).

use std::path::Path;

use codex_tokenize::{AnyTokenizer, HfTokenizer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn encode(c: &mut Criterion) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let corpus = std::fs::read_to_string(data.join("corpus.txt")).unwrap();
    let lines: Vec<&str> = corpus.lines().collect();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    let bpe = HfTokenizer::from_file(data.join("hf-bpe.json")).unwrap();
    group.bench_function("byte-level BPE, batch ids", |b| {
        b.iter(|| std::hint::black_box(bpe.encode_batch_ids(&lines, false).unwrap()));
    });
    group.bench_function("byte-level BPE, one by one with offsets", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(bpe.encode(l, false).unwrap());
            }
        });
    });
    let spm = AnyTokenizer::from_file(data.join("spm-unigram.model")).unwrap();
    group.bench_function("SentencePiece unigram", |b| {
        b.iter(|| {
            for l in &lines {
                std::hint::black_box(spm.encode(l, false).unwrap());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
