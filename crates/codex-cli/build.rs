//! Embeds build facts for `--version` and provenance: git commit and dirty flag,
//! rustc version, the BLAKE3 of Cargo.lock, target and profile.

use std::path::Path;
use std::process::Command;

fn run(cmd: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = Path::new(&manifest);
    let root = manifest.join("../..");

    let commit = run("git", &["rev-parse", "HEAD"], &root);
    let dirty = commit.as_ref().and_then(|_| {
        run(
            "git",
            &["status", "--porcelain", "--untracked-files=no"],
            &root,
        )
        .map(|s| !s.is_empty())
    });
    if let Some(git_dir) = run("git", &["rev-parse", "--absolute-git-dir"], &root) {
        let git_dir = Path::new(&git_dir);
        for f in ["HEAD", "index"] {
            println!("cargo:rerun-if-changed={}", git_dir.join(f).display());
        }
        if let Some(head_ref) = run("git", &["symbolic-ref", "-q", "HEAD"], &root) {
            println!(
                "cargo:rerun-if-changed={}",
                git_dir.join(head_ref).display()
            );
        }
    }
    let lock = root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let lock_hash = std::fs::read(&lock)
        .map(|b| blake3::hash(&b).to_hex().to_string())
        .unwrap_or_default();

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = run(&rustc, &["-V"], manifest).unwrap_or_else(|| "rustc (unknown)".into());

    let describe = match (&commit, dirty) {
        (Some(c), Some(true)) => format!("{}-dirty", &c[..12.min(c.len())]),
        (Some(c), _) => c[..12.min(c.len())].to_owned(),
        (None, _) => "no git commit".to_owned(),
    };
    println!(
        "cargo:rustc-env=CODEX_GIT_COMMIT={}",
        commit.unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=CODEX_GIT_DIRTY={}",
        dirty.map_or(String::new(), |d| d.to_string())
    );
    println!("cargo:rustc-env=CODEX_GIT_DESCRIBE={describe}");
    println!("cargo:rustc-env=CODEX_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=CODEX_CARGO_LOCK_BLAKE3={lock_hash}");
    println!(
        "cargo:rustc-env=CODEX_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=CODEX_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
}
