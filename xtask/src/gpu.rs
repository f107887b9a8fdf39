//! `cargo xtask gpu`: builds here what the GPU check (`scripts/gpu/check.sh`)
//! runs on a machine with an NVIDIA GPU and nothing else reachable.
//!
//! Three programs built with `--features cuda,wgpu` (the CPU backend stays in):
//! the `codex` binary, codex-train's `bench_train` example and codex-model's
//! `backends` conformance test, stripped, with the Vulkan loader beside them
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

/// What may travel besides the working tree (64 MiB in all, ~9 MiB of it tracked files).
const BUNDLE_LIMIT: u64 = 52 << 20;

const FEATURES: &str = "cuda,wgpu";

pub(crate) fn prepare() -> Result<()> {
    let start = Instant::now();
    run(Command::new("bash").arg("scripts/cuda/install_llvm.sh"))?;
    let [codex, bench, test] = build()?;
    let built = start.elapsed().as_secs_f64();

    let out = Path::new("target/gpu");
    let stage = out.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    std::fs::create_dir_all(stage.join("bin"))?;
    std::fs::create_dir_all(stage.join("lib"))?;
    for (from, name) in [(codex, "codex"), (bench, "bench_train"), (test, "backends")] {
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
    if size > BUNDLE_LIMIT {
        bail!(
            "{} is {:.1} MiB, over the {} MiB that may travel beside the working tree",
            bundle.display(),
            size as f64 / 1048576.0,
            BUNDLE_LIMIT >> 20
        );
    }
    println!(
        "on the GPU machine, from the repository root: bash scripts/gpu/check.sh (carry target/gpu/bundle.tar.xz)"
    );
    Ok(())
}

/// The three programs, from one cargo invocation so that the three packages'
/// dependencies are resolved (and compiled) once: the `codex` binary, the
/// `bench_train` example and the `backends` test, in this order.
fn build() -> Result<[PathBuf; 3]> {
    let features = ["codex-cli", "codex-train", "codex-model"]
        .iter()
        .flat_map(|p| FEATURES.split(',').map(move |f| format!("{p}/{f}")))
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new(cargo())
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
            "--test",
            "backends",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("building the GPU check's programs failed ({})", out.status);
    }
    let mut found: [Option<PathBuf>; 3] = Default::default();
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
            Some("backends") => 2,
            _ => continue,
        };
        found[slot] = Some(PathBuf::from(exe));
    }
    let [Some(codex), Some(bench), Some(test)] = found else {
        bail!("cargo did not name all three programs (codex, bench_train, backends)");
    };
    Ok([codex, bench, test])
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
