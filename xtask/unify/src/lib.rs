//! No code: this crate exists for its manifest. Its dependencies turn on, in
//! every `--workspace` build, the features of shared dependencies that burn's
//! GPU backends turn on, so that CI's GPU build reuses the test gate's units
//! instead of compiling 160 crates again (see `Cargo.toml` and
//! `scripts/check/unit_graph_diff.py`). Nothing may depend on it.
