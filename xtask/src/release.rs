//! `cargo xtask examples` (run every example of the `codex` crate, timed) and
//! `cargo xtask dist` (the release archive).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The examples of the `codex` crate, in the order the README lists them.
pub(crate) const EXAMPLES: [&str; 7] = [
    "train_tiny",
    "lora_finetune",
    "score_text",
    "tokenizer",
    "safety_policy",
    "audit_repo",
    "plugins",
];

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// A `cargo` command for a nested build, without the variables `cargo run`
/// set for xtask itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`,
/// `CARGO_PKG_VERSION_MAJOR`, …, and `OUT_DIR` should xtask gain a build
/// script), which a child cargo would pass on. ring's
/// build script watches several of them (`rerun-if-env-changed`), so every
/// build started from here and every build started directly (as `.ci/run`
/// does) would find ring stale and rebuild it and all that depends on it
/// (on the cuda graph, cubecl's and burn's GPU crates: 19 minutes).
pub(crate) fn cargo_cmd(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let set_by_cargo_run = name.to_str().is_some_and(|n| {
            [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|p| n.starts_with(p))
                || n == "CARGO_PRIMARY_PACKAGE"
                || n == "OUT_DIR"
        });
        if set_by_cargo_run {
            cmd.env_remove(name);
        }
    }
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Builds the examples once, then runs each and reports its time. `release`
/// builds them optimised (as a user runs them); otherwise the dev profile,
/// whose dependencies are optimised too, shares the test build. They are
/// built with the whole workspace selected, as the test gate builds them
/// (`cargo test --workspace` compiles every example): selecting `-p codex`
/// alone resolves other features for shared dependencies (`log`,
/// `regex-automata`, `rustix`, …) and rebuilt burn's whole stack, 8 minutes
/// of a cold CI run. The programs then run directly, not through `cargo run`.
pub(crate) fn examples(release: bool) -> Result<()> {
    let profile: &[&str] = if release { &["--release"] } else { &[] };
    run(cargo_cmd(cargo())
        .args(["build", "-q", "--locked", "--workspace", "--examples"])
        .args(profile))?;
    let dir = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("examples");
    let mut times = Vec::new();
    for name in EXAMPLES {
        println!("== example {name}");
        let start = Instant::now();
        run(&mut Command::new(dir.join(name)))?;
        times.push((name, start.elapsed().as_secs_f64()));
    }
    println!("\nexample          seconds");
    for (name, secs) in &times {
        println!("{name:<16} {secs:>7.1}");
    }
    Ok(())
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Builds `codex` with the `dist` profile and packs
/// `target/dist/codex-VERSION-TARGET.tar.gz`: the binary, the default
/// configurations, shell completions, man pages, README and licence note,
/// with `SHA256SUMS` inside and beside the archive.
pub(crate) fn dist(features: Option<&str>) -> Result<()> {
    let start = Instant::now();
    let mut build = cargo_cmd(cargo());
    build.args(["build", "--locked", "--profile", "dist", "-p", "codex-cli"]);
    if let Some(f) = features {
        build.args(["--features", f]);
    }
    run(&mut build)?;
    let built = start.elapsed().as_secs_f64();
    let binary = target_dir().join("dist").join("codex");
    let version = output(Command::new(&binary).arg("--version"))?;
    let version = version
        .split_whitespace()
        .nth(1)
        .context("`codex --version` names no version")?
        .to_owned();
    let triple = output(Command::new("rustc").arg("-vV"))?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")?;
    let name = format!("codex-{version}-{triple}");
    let stage = target_dir().join("dist").join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    for d in ["bin", "configs/safety", "completions", "man/man1"] {
        std::fs::create_dir_all(stage.join(d))?;
    }
    std::fs::copy(&binary, stage.join("bin/codex"))?;
    std::fs::copy("configs/default.yaml", stage.join("configs/default.yaml"))?;
    std::fs::copy(
        "configs/safety/default.yaml",
        stage.join("configs/safety/default.yaml"),
    )?;
    std::fs::copy("README.md", stage.join("README.md"))?;
    for (shell, file) in [
        ("bash", "codex.bash"),
        ("zsh", "_codex"),
        ("fish", "codex.fish"),
    ] {
        let script = output(Command::new(&binary).args(["completions", shell]))?;
        std::fs::write(stage.join("completions").join(file), script)?;
    }
    output(Command::new(&binary).arg("man").arg(stage.join("man/man1")))?;
    let sums = sha256_lines(&stage)?;
    std::fs::write(stage.join("SHA256SUMS"), &sums)?;
    let archive = format!("{name}.tar.gz");
    run(Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg(&name)
        .current_dir(target_dir().join("dist")))?;
    let dist = target_dir().join("dist");
    let archive_sum = output(Command::new("sha256sum").arg(&archive).current_dir(&dist))?;
    std::fs::write(dist.join(format!("{archive}.sha256")), &archive_sum)?;
    let size = std::fs::metadata(stage.join("bin/codex"))?.len();
    let packed = std::fs::metadata(dist.join(&archive))?.len();
    println!(
        "built in {built:.0}s; binary {:.1} MB, archive {:.1} MB\n{}\n{}",
        size as f64 / 1e6,
        packed as f64 / 1e6,
        dist.join(&archive).display(),
        archive_sum.trim()
    );
    Ok(())
}

/// `sha256sum`-style lines for every file under `dir`, sorted by path.
fn sha256_lines(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).display().to_string())
        .collect();
    output(Command::new("sha256sum").args(&rel).current_dir(dir))
}
