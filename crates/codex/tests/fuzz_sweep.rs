//! The fuzz targets' deterministic mutation sweep: every seed of
//! `fuzz/corpus/<target>/` and a fixed set of its mutations through the same
//! target bodies the libFuzzer binaries run (`fuzz/src/targets.rs`). Each must
//! end in a value or an error, never a panic. `cargo xtask fuzz` runs the
//! coverage-guided search; this keeps the property on every CI build.

#[path = "../../../fuzz/src/targets.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "shared with the fuzz crate, which uses every item"
)]
mod targets;

use std::path::Path;

/// Mutations per seed; the expensive targets (a model import, an audit) get fewer.
fn mutations(target: &str) -> usize {
    match target {
        "audit_tree" | "safetensors" | "data_source" => 24,
        _ => 96,
    }
}

#[test]
fn every_target_survives_its_seeds_and_their_mutations() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut ran = 0;
    for (name, target) in targets::TARGETS {
        let dir = corpus.join(name);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        seeds.sort();
        assert!(
            !seeds.is_empty(),
            "{name} has no seeds in {}",
            dir.display()
        );
        for (s, seed) in seeds.iter().enumerate() {
            let bytes = std::fs::read(seed).unwrap();
            target(&bytes);
            let mut rng = codex_core::Rng::new(0xF022, ((ran as u64) << 8) | s as u64);
            for _ in 0..mutations(name) {
                let input = targets::mutate(&bytes, &mut rng);
                // A panic here names the target and seed; the input is
                // reproduced by the seed and the fixed generator.
                target(&input);
            }
        }
        ran += 1;
    }
    assert_eq!(ran, targets::TARGETS.len());
}
