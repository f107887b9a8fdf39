//! Micro-benchmark of the safety scan: the default policy over 256 KiB of
//! prose with a secret, an email address and a card number every few
//! kilobytes. `cargo bench -p codex-safety --bench micro` (or
//! `cargo xtask bench micro`).

use codex_safety::{Policy, Scanner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn text(bytes: usize) -> String {
    let words = [
        "the", "harbour", "was", "quiet", "before", "the", "storm", "and", "every", "boat",
        "stayed", "close", "to", "the", "old", "stone", "wall",
    ];
    let mut out = String::with_capacity(bytes + 128);
    let mut i = 0usize;
    while out.len() < bytes {
        out.push_str(words[(i * 7) % words.len()]);
        out.push(if i % 13 == 12 { '\n' } else { ' ' });
        if i % 700 == 699 {
            out.push_str("aws_access_key_id = AKIAIOSFODNN7EXAMPLF mail ada@example.org card 4111 1111 1111 1111\n");
        }
        i += 1;
    }
    out
}

fn scan(c: &mut Criterion) {
    let scanner = Scanner::new(Policy::default_policy());
    let text = text(256 * 1024);
    let mut group = c.benchmark_group("safety scan");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("default policy, 256 KiB", |b| {
        b.iter(|| std::hint::black_box(scanner.scan_all(&text, None)));
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
