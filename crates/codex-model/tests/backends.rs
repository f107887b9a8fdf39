//! One test body, run on every backend this build compiles (`flex`, `ndarray`,
//! `wgpu`, `cuda`): transformers conformance, cache equivalence and a backward
//! pass (the checks are in `conformance/mod.rs`, which the GPU check runs
//! through codex-train's `bench_train --conformance`).
//!
//! A GPU backend that is compiled in but finds no device here is reported and
//! skipped only when `CODEX_TEST_SKIP_MISSING_GPU=1`; otherwise it fails.
//! `CODEX_TEST_BACKEND=NAME` runs one backend alone, and `CODEX_MODEL_FIXTURES`
//! points at `tests/data/model` when the binary runs away from this checkout.

mod conformance;

#[test]
fn every_compiled_backend_matches_transformers() {
    conformance::check_compiled_backends();
}
