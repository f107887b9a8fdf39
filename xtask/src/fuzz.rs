//! `cargo xtask fuzz [TARGET] [--seconds N] [--sanitizer S]`: coverage-guided
//! fuzzing of codex's parsers of untrusted input with cargo-fuzz (libFuzzer),
//! each target for N seconds (default 600), starting from the committed seeds
//! (`fuzz/corpus/<target>/`) and keeping what it finds under
//! `target/fuzz/corpus/<target>/`. A crash leaves its input in
//! `fuzz/artifacts/<target>/` and fails the task. The sanitizer defaults to
//! `none`: codex's crates deny `unsafe` code, so what fuzzing looks for is a
//! panic, an abort or a runaway allocation, which libFuzzer catches without
//! one, and the uninstrumented build is several times quicker to build and
//! run; `--sanitizer address` adds AddressSanitizer for the C/C++ and unsafe
//! code of dependencies.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The targets `fuzz/Cargo.toml` defines, in the order they run.
const TARGETS: &[&str] = &[
    "config",
    "data_source",
    "safetensors",
    "hf_config",
    "checkpoint_state",
    "safety_policy",
    "tokenizer_json",
    "task_yaml",
    "audit_tree",
    "spm_model",
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds = 600u64;
    let mut sanitizer = "none".to_owned();
    let mut only = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds needs a number")?.parse()?,
            "--sanitizer" => {
                sanitizer = it
                    .next()
                    .context("--sanitizer needs address, leak, memory, thread or none")?
                    .clone();
            }
            t if TARGETS.contains(&t) => only = Some(t.to_owned()),
            other => bail!(
                "unknown argument `{other}`; targets: {}; options: --seconds N, --sanitizer S",
                TARGETS.join(", ")
            ),
        }
    }
    let has_cargo_fuzz = crate::release::cargo_cmd("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        bail!("cargo-fuzz is not installed: cargo install cargo-fuzz --locked");
    }
    let mut failed = Vec::new();
    for target in TARGETS
        .iter()
        .filter(|t| only.as_deref().is_none_or(|o| o == **t))
    {
        let found = PathBuf::from("target/fuzz/corpus").join(target);
        std::fs::create_dir_all(&found)?;
        let seeds = PathBuf::from("fuzz/corpus").join(target);
        println!("fuzzing {target} for {seconds} s");
        let mut cmd = crate::release::cargo_cmd("cargo");
        // The pinned stable toolchain accepts cargo-fuzz's sanitizer flags this way.
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .args([
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                "--sanitizer",
                &sanitizer,
                target,
            ])
            .arg(&found);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--").args([
            format!("-max_total_time={seconds}"),
            "-rss_limit_mb=4096".into(),
            "-timeout=60".into(),
            "-print_final_stats=1".into(),
        ]);
        if !cmd.status().context("cannot run cargo fuzz")?.success() {
            failed.push(*target);
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzzing found crashes in {} (inputs under fuzz/artifacts/)",
            failed.join(", ")
        );
    }
    Ok(())
}
