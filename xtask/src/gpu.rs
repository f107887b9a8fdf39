//! `cargo xtask gpu`: builds here what the GPU check (`scripts/gpu/check.sh`)
//! runs on a machine with an NVIDIA GPU and nothing else reachable.
//!
//! Two programs built with `--features cuda,wgpu` (the CPU backend stays in):
//! the `codex` binary and codex-train's `bench_train` example, which also runs
//! codex-model's conformance checks (`--conformance`; a third program linking
//! the same GPU stack and static LLVM put the bundle over the limit: 55.1 MiB
//! for three), stripped, with the Vulkan loader beside them
//! (the GPU machine may have the NVIDIA driver's Vulkan ICD but no loader), packed
//! as `target/gpu/bundle.tar.xz` in the repository (not the cargo target
//! directory), which is what the device tool carries. xz with a 512 MiB window
//! finds most of the static LLVM that each program links in the ones before it
//! (two codex builds: the second cost 8.7 MB packed instead of about 33 MB).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::release::{cargo, run};

/// What the device tool carries in all: the working tree and the bundle.
const CARRY_LIMIT: u64 = 64 << 20;

const FEATURES: &str = "cuda,wgpu";

pub(crate) fn prepare() -> Result<()> {
    let start = Instant::now();
    run(Command::new("bash").arg("scripts/cuda/install_llvm.sh"))?;
    let [codex, bench] = build()?;
    let built = start.elapsed().as_secs_f64();

    let out = Path::new("target/gpu");
    let stage = out.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    std::fs::create_dir_all(stage.join("bin"))?;
    std::fs::create_dir_all(stage.join("lib"))?;
    for (from, name) in [(codex, "codex"), (bench, "bench_train")] {
        run(Command::new("strip")
            .arg("--strip-all")
            .arg(&from)
            .arg("-o")
            .arg(stage.join("bin").join(name)))?;
    }
    let loader = vulkan_loader()?;
    std::fs::copy(&loader, stage.join("lib/libvulkan.so.1"))
        .with_context(|| format!("copying {}", loader.display()))?;
    let commit = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()?
            .stdout,
    )?;
    let version = String::from_utf8(
        Command::new(stage.join("bin/codex"))
            .arg("--version")
            .output()?
            .stdout,
    )?;
    std::fs::write(
        stage.join("manifest.txt"),
        format!(
            "{version}commit {}\nfeatures {FEATURES}\nbuilt by cargo xtask gpu\n",
            commit.trim()
        ),
    )?;

    let bundle = out.join("bundle.tar.xz");
    let packed = Instant::now();
    let status = Command::new("bash")
        .arg("-c")
        .arg(
            "set -o pipefail; tar -C \"$1\" -cf - . | xz -9e --lzma2=preset=9e,dict=512MiB -T1 > \"$2.partial\" && mv \"$2.partial\" \"$2\"",
        )
        .arg("pack")
        .arg(&stage)
        .arg(&bundle)
        .status()?;
    if !status.success() {
        bail!("packing {} failed ({status})", bundle.display());
    }
    let size = std::fs::metadata(&bundle)?.len();
    let mut sizes = String::new();
    for entry in std::fs::read_dir(stage.join("bin"))? {
        let entry = entry?;
        sizes.push_str(&format!(
            "  {:<12} {:>6.1} MiB\n",
            entry.file_name().to_string_lossy(),
            entry.metadata()?.len() as f64 / 1048576.0
        ));
    }
    println!(
        "{} ({:.1} MiB; built in {built:.0} s, packed in {:.0} s)\n{sizes}",
        bundle.display(),
        size as f64 / 1048576.0,
        packed.elapsed().as_secs_f64()
    );
    let tree = working_tree_bytes()?;
    let limit = CARRY_LIMIT.saturating_sub(tree + (512 << 10));
    if size > limit {
        bail!(
            "{} is {:.1} MiB, over the {:.1} MiB that may travel beside the working tree ({:.1} MiB)",
            bundle.display(),
            size as f64 / 1048576.0,
            limit as f64 / 1048576.0,
            tree as f64 / 1048576.0
        );
    }
    println!(
        "on the GPU machine, from the repository root: bash scripts/gpu/check.sh (carry target/gpu/bundle.tar.xz)"
    );
    Ok(())
}

/// What the device tool copies besides what it is told to carry: tracked
/// files and untracked ones git does not ignore.
fn working_tree_bytes() -> Result<u64> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()?;
    if !out.status.success() {
        bail!("git ls-files failed");
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| std::fs::symlink_metadata(String::from_utf8_lossy(p).as_ref()).ok())
        .map(|m| m.len())
        .sum())
}

/// The two programs, from one cargo invocation so that the packages'
/// dependencies are resolved (and compiled) once: the `codex` binary and the
/// `bench_train` example, in this order. codex-model is named for its
/// features (the same resolution as `cargo test -p codex-model` builds with).
fn build() -> Result<[PathBuf; 2]> {
    let features = ["codex-cli", "codex-train", "codex-model"]
        .iter()
        .flat_map(|p| FEATURES.split(',').map(move |f| format!("{p}/{f}")))
        .collect::<Vec<_>>()
        .join(",");
    let out = crate::release::cargo_cmd(cargo())
        .args([
            "build",
            "--locked",
            "--release",
            "-p",
            "codex-cli",
            "-p",
            "codex-train",
            "-p",
            "codex-model",
            "--features",
            &features,
            "--bin",
            "codex",
            "--example",
            "bench_train",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("building the GPU check's programs failed ({})", out.status);
    }
    let mut found: [Option<PathBuf>; 2] = Default::default();
    for line in String::from_utf8(out.stdout)?.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(exe) = v["executable"].as_str() else {
            continue;
        };
        let slot = match v["target"]["name"].as_str() {
            Some("codex") => 0,
            Some("bench_train") => 1,
            _ => continue,
        };
        found[slot] = Some(PathBuf::from(exe));
    }
    let [Some(codex), Some(bench)] = found else {
        bail!("cargo did not name both programs (codex, bench_train)");
    };
    Ok([codex, bench])
}

/// The Vulkan loader this machine links against (Debian: libvulkan1).
fn vulkan_loader() -> Result<PathBuf> {
    for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"] {
        let p = Path::new(dir).join("libvulkan.so.1");
        if p.exists() {
            return Ok(std::fs::canonicalize(&p)?);
        }
    }
    bail!("no libvulkan.so.1 here to carry (Debian: apt-get install libvulkan1)")
}
