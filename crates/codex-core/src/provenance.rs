//! Provenance: which code, machine, seed, command and environment produced a run.
//!
//! Invariant: environment variables enter provenance only through
//! [`ENV_ALLOW_LIST`], and the command line passes [`redact_args`] (secret
//! keys, credentials in URIs), so tokens and credentials never reach
//! `provenance.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::atomic::write_bytes_atomic;
use crate::error::{Error, Result};
use crate::redact::redact_args;
use crate::seed::Seeds;

/// Environment variables recorded in provenance; no other variable is ever read into it.
pub const ENV_ALLOW_LIST: &[&str] = &[
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RAYON_NUM_THREADS",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "WGPU_BACKEND",
    "WGPU_ADAPTER_NAME",
    "SOURCE_DATE_EPOCH",
    "CODEX_SAFETY_POLICY",
    "CODEX_SAFETY_BYPASS",
    "LANG",
    "LC_ALL",
    "TZ",
];

/// Facts about the codex binary fixed at build time (filled by the binary's build script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// Crate version, e.g. `0.1.0`.
    pub version: String,
    /// Commit the binary was built from, when built inside a git checkout.
    pub git_commit: Option<String>,
    /// Whether that checkout had uncommitted changes at build time.
    pub git_dirty: Option<bool>,
    /// `rustc -V` of the compiler that built it.
    pub rustc: String,
    /// BLAKE3 of the workspace `Cargo.lock` at build time.
    pub cargo_lock_blake3: Option<String>,
    /// Target triple.
    pub target: String,
    /// Cargo profile (`debug` or `release`).
    pub profile: String,
    /// Tensor backends compiled in.
    pub backends: Vec<String>,
}

impl BuildInfo {
    /// Every fact of the build as `key value` lines, with the cargo
    /// `features` it was compiled with (`codex --version --verbose`).
    pub fn to_text(&self, features: &[&str]) -> String {
        let commit = match (&self.git_commit, self.git_dirty) {
            (Some(c), Some(true)) => format!("{c} (uncommitted changes)"),
            (Some(c), _) => c.clone(),
            (None, _) => "unknown (not built from a git checkout)".into(),
        };
        crate::TextReport::new(10)
            .kv("codex", &self.version)
            .kv("commit", commit)
            .kv("rustc", &self.rustc)
            .kv("target", &self.target)
            .kv("profile", &self.profile)
            .kv("backends", self.backends.join(", "))
            .kv("features", features.join(", "))
            .opt(
                "Cargo.lock",
                self.cargo_lock_blake3
                    .as_deref()
                    .map(|h| format!("blake3 {h}")),
            )
            .finish()
    }
}

/// The git state of a directory at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitState {
    /// The directory examined.
    pub path: PathBuf,
    /// `HEAD` commit, or `None` outside a repository or without git.
    pub commit: Option<String>,
    /// Whether tracked files differ from `HEAD`.
    pub dirty: Option<bool>,
}

/// The machine a run executed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: Option<String>,
    /// Operating system name and version.
    pub os: Option<String>,
    /// Kernel version.
    pub kernel: Option<String>,
    /// CPU architecture, e.g. `x86_64`.
    pub arch: String,
    /// CPU brand string.
    pub cpu_model: Option<String>,
    /// Logical CPUs.
    pub cpu_logical: usize,
    /// Physical cores, when the OS says.
    pub cpu_physical: Option<usize>,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// NVIDIA GPUs seen through the driver's `/proc` interface (model names).
    pub gpus: Vec<String>,
}

/// Everything recorded in `provenance.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Format version of this record.
    pub schema_version: u32,
    /// When the run started, RFC 3339 with offset.
    pub started_at: String,
    /// The binary.
    pub codex: BuildInfo,
    /// The working directory's git state (the user's project, not codex's source).
    pub workdir: GitState,
    /// The machine.
    pub host: HostInfo,
    /// Master seed.
    pub seed: u64,
    /// Seeds derived for each component (see [`Seeds`]).
    pub derived_seeds: BTreeMap<String, u64>,
    /// Command line, with secret-looking values redacted.
    pub command_line: Vec<String>,
    /// Allow-listed environment variables that were set.
    pub env: BTreeMap<String, String>,
    /// The model trained, as its owner records it (for a training run: its
    /// shape, vocabulary included, and where it was loaded from), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<serde_json::Value>,
}

impl Provenance {
    /// Captures provenance from explicit inputs; `env` is the full environment, of
    /// which only allow-listed names are kept.
    pub fn capture(
        build: BuildInfo,
        seeds: Seeds,
        args: impl IntoIterator<Item = String>,
        env: impl IntoIterator<Item = (String, String)>,
        workdir: &Path,
    ) -> Self {
        let env = env
            .into_iter()
            .filter(|(k, _)| ENV_ALLOW_LIST.contains(&k.as_str()))
            .collect();
        Self {
            schema_version: 1,
            started_at: chrono::Local::now().to_rfc3339(),
            codex: build,
            workdir: git_state(workdir),
            host: host_info(),
            seed: seeds.master(),
            derived_seeds: Seeds::COMPONENTS
                .iter()
                .map(|c| ((*c).to_owned(), seeds.derive(c)))
                .collect(),
            command_line: redact_args(args),
            env,
            model: None,
        }
    }

    /// Captures provenance for the current process.
    pub fn capture_current(build: BuildInfo, seeds: Seeds) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::capture(build, seeds, std::env::args(), std::env::vars(), &cwd)
    }

    /// Writes the record as pretty JSON, atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Serialize {
            what: "provenance",
            message: e.to_string(),
        })?;
        write_bytes_atomic(path, &json)
    }
}

fn git_output(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The git commit and dirty flag of `dir`, when it is inside a repository.
pub fn git_state(dir: &Path) -> GitState {
    let commit = git_output(dir, &["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| git_output(dir, &["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    GitState {
        path: dir.to_path_buf(),
        commit,
        dirty,
    }
}

/// Memory the operating system says is available now, in bytes.
pub fn memory_available() -> Option<u64> {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .map(|s| s.available_memory())
    .ok()
}

/// Facts about this machine.
pub fn host_info() -> HostInfo {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    HostInfo {
        hostname: System::host_name().ok(),
        os: System::long_os_version().ok(),
        kernel: System::kernel_version().ok(),
        arch: std::env::consts::ARCH.to_owned(),
        cpu_model: sys
            .as_ref()
            .and_then(|s| s.cpus().first())
            .map(|c| c.brand().trim().to_owned())
            .filter(|s| !s.is_empty()),
        cpu_logical: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_physical: System::physical_core_count().ok(),
        memory_bytes: sys.as_ref().map_or(0, System::total_memory),
        gpus: nvidia_gpus(),
    }
}

/// GPU model names from the NVIDIA driver's `/proc` interface; empty without a driver.
pub fn nvidia_gpus() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return Vec::new();
    };
    let mut gpus: Vec<(String, String)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let info = std::fs::read_to_string(e.path().join("information")).ok()?;
            let model = info
                .lines()
                .find_map(|l| l.strip_prefix("Model:"))?
                .trim()
                .to_owned();
            Some((e.file_name().to_string_lossy().into_owned(), model))
        })
        .collect();
    gpus.sort();
    gpus.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::REDACTED;

    fn build() -> BuildInfo {
        BuildInfo {
            version: "0.1.0".into(),
            git_commit: Some("abc".into()),
            git_dirty: Some(false),
            rustc: "rustc 1.95.0".into(),
            cargo_lock_blake3: None,
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "debug".into(),
            backends: vec!["flex".into()],
        }
    }

    const AWS: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz-test-only";
    const MLFLOW: &str = "mlflow-token-9f8e7d6c5b4a-test-only";
    const CHILD_OUT: &str = "CODEX_TEST_PROVENANCE_OUT";

    #[test]
    fn secrets_in_process_environment_never_reach_the_file() {
        // The child half: capture this process's real environment and write the file.
        if let Some(out) = std::env::var_os(CHILD_OUT) {
            Provenance::capture_current(build(), Seeds::new(7))
                .write(PathBuf::from(out))
                .unwrap();
            return;
        }
        // The parent half: re-run this very test in a child whose environment holds the secrets.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("provenance.json");
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "provenance::tests::secrets_in_process_environment_never_reach_the_file",
                "--test-threads=1",
            ])
            .env(CHILD_OUT, &out)
            .env("AWS_SECRET_ACCESS_KEY", AWS)
            .env("MLFLOW_TRACKING_TOKEN", MLFLOW)
            .env("RAYON_NUM_THREADS", "2")
            .output()
            .unwrap();
        assert!(
            child.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&child.stdout)
        );
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains(AWS), "AWS secret leaked: {text}");
        assert!(!text.contains(MLFLOW), "MLflow token leaked: {text}");
        assert!(!text.contains("AWS_SECRET_ACCESS_KEY"));
        // The allow-listed variable proves the child's environment was really read.
        let p: Provenance = serde_json::from_str(&text).unwrap();
        assert_eq!(
            p.env.get("RAYON_NUM_THREADS").map(String::as_str),
            Some("2")
        );
    }

    #[test]
    fn secret_looking_arguments_are_redacted() {
        let args = [
            "codex",
            "train",
            &format!("track.mlflow.token={MLFLOW}"),
            "--api-key",
            AWS,
            "--password=hunter2",
            "train.lr=3e-4",
        ]
        .map(str::to_owned);
        let dir = tempfile::tempdir().unwrap();
        let p = Provenance::capture(build(), Seeds::new(7), args, Vec::new(), dir.path());
        let path = dir.path().join("provenance.json");
        p.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [AWS, MLFLOW, "hunter2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(
            p.command_line,
            [
                "codex",
                "train",
                &format!("track.mlflow.token={REDACTED}"),
                "--api-key",
                REDACTED,
                &format!("--password={REDACTED}"),
                "train.lr=3e-4",
            ]
        );
        let back: Provenance = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn host_and_seeds_are_filled() {
        let dir = tempfile::tempdir().unwrap();
        let p = Provenance::capture(build(), Seeds::new(7), Vec::new(), Vec::new(), dir.path());
        assert!(p.host.cpu_logical >= 1);
        assert!(p.host.memory_bytes > 0);
        assert_eq!(p.derived_seeds.len(), Seeds::COMPONENTS.len());
        assert_eq!(
            p.derived_seeds["model.init"],
            Seeds::new(7).derive("model.init")
        );
        // A temporary directory is not a git checkout.
        assert_eq!(p.workdir.commit, None);
    }
}
