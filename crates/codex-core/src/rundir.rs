//! Run directories: `runs/<YYYYmmdd-HHMMSS>-<name>`, created collision-safe.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local};

use crate::error::{Error, Result};

/// A run's directory and the well-known paths inside it (see the brief's run-directory contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates a new run directory under `runs_root` named after `started` and `name`.
    ///
    /// When another run already took the name (two runs in the same second), a
    /// suffix `-2`, `-3`, … is appended; creation uses `create_dir`, which fails if
    /// the directory exists, so two processes never share one.
    pub fn create(
        runs_root: impl AsRef<Path>,
        name: &str,
        started: DateTime<Local>,
    ) -> Result<Self> {
        let runs_root = runs_root.as_ref();
        let name = sanitize_name(name)?;
        fs::create_dir_all(runs_root).map_err(|e| Error::io("cannot create", runs_root, e))?;
        let base = format!("{}-{name}", started.format("%Y%m%d-%H%M%S"));
        for attempt in 1u32.. {
            let dir_name = if attempt == 1 {
                base.clone()
            } else {
                format!("{base}-{attempt}")
            };
            let root = runs_root.join(dir_name);
            match fs::create_dir(&root) {
                Ok(()) => return Ok(Self { root }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("cannot create", &root, e)),
            }
        }
        unreachable!("u32 attempts exhausted")
    }

    /// Opens an existing run directory (for resume, reports and `codex runs`).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::io(
                "not a run directory",
                &root,
                io::Error::new(io::ErrorKind::NotFound, "no such directory"),
            ));
        }
        Ok(Self { root })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.yaml`: the fully resolved configuration, as run.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    /// `provenance.json`.
    pub fn provenance(&self) -> PathBuf {
        self.root.join("provenance.json")
    }

    /// `metrics.ndjson`.
    pub fn metrics_ndjson(&self) -> PathBuf {
        self.root.join("metrics.ndjson")
    }

    /// `metrics.csv`.
    pub fn metrics_csv(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// `system.ndjson`.
    pub fn system_ndjson(&self) -> PathBuf {
        self.root.join("system.ndjson")
    }

    /// `errors.ndjson`.
    pub fn errors_ndjson(&self) -> PathBuf {
        self.root.join("errors.ndjson")
    }

    /// `report.md`.
    pub fn report(&self) -> PathBuf {
        self.root.join("report.md")
    }

    /// A subdirectory (`tokenizer`, `data`, `checkpoints`, `eval`, `safety`), created on demand.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        Ok(dir)
    }
}

/// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `-`. Rejects
/// names that would be empty or a relative path component.
fn sanitize_name(name: &str) -> Result<String> {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-').to_owned();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        return Err(Error::InvalidRunName {
            name: name.to_owned(),
        });
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 11, 21, 9, 5, 7).unwrap()
    }

    #[test]
    fn name_has_timestamp_and_collisions_get_suffixes() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunDir::create(dir.path(), "tiny gpt", t()).unwrap();
        let b = RunDir::create(dir.path(), "tiny gpt", t()).unwrap();
        let c = RunDir::create(dir.path(), "tiny gpt", t()).unwrap();
        let names: Vec<_> = [a, b, c]
            .iter()
            .map(|r| r.root().file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "20261121-090507-tiny-gpt",
                "20261121-090507-tiny-gpt-2",
                "20261121-090507-tiny-gpt-3"
            ]
        );
    }

    #[test]
    fn concurrent_creation_never_shares_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || RunDir::create(&root, "race", t()).unwrap())
            })
            .collect();
        let mut roots: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        roots.sort_by(|a, b| a.root().cmp(b.root()));
        roots.dedup();
        assert_eq!(roots.len(), 8);
    }

    #[test]
    fn path_like_names_are_rejected_or_flattened() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            RunDir::create(dir.path(), "..", t()),
            Err(Error::InvalidRunName { .. })
        ));
        let r = RunDir::create(dir.path(), "../escape", t()).unwrap();
        assert_eq!(r.root().parent().unwrap(), dir.path());
    }
}
