//! codex's fuzz targets (see `targets.rs`), for the libFuzzer binaries.

#[path = "targets.rs"]
pub mod targets;
