//! The repo map: top-level folders with file counts, key files, entry points.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::inventory::{FileEntry, StepError};

/// Files that say how a repository is built, run or released.
const KEY_FILES: [&str; 16] = [
    "Cargo.toml",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "noxfile.py",
    "tox.ini",
    "package.json",
    "go.mod",
    "Dockerfile",
    "docker-compose.yml",
    "Makefile",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    ".github/workflows",
    ".gitlab-ci.yml",
];

/// An entry point: a binary target or a console script.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct EntryPoint {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub declared_in: String,
    /// What it runs (a path or a `module:function`).
    pub target: String,
}

/// The map of a repository.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RepoMap {
    /// Top-level folders and the files under each (`.` for the root's own files).
    pub folders: BTreeMap<String, usize>,
    /// Key files that exist (paths relative to the root).
    pub key_files: Vec<String>,
    /// Entry points found in manifests.
    pub entry_points: Vec<EntryPoint>,
}

/// Manifests are read up to this size.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// A manifest of the tree, read as untrusted input: never through a link,
/// never a FIFO or device, at most 1 MiB; anything else is an error of the map.
fn read_manifest(root: &Path, rel: &str, errors: &mut Vec<StepError>) -> Option<toml::Table> {
    let text = match codex_core::untrusted::read_regular_text(&root.join(rel), MAX_MANIFEST_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            errors.push(StepError {
                step: "repo map".into(),
                error: e.to_string(),
                context: rel.to_owned(),
            });
            return None;
        }
    };
    text.parse::<toml::Table>().ok()
}

fn cargo_bins(
    root: &Path,
    listed: &HashSet<&str>,
    manifest: &str,
    out: &mut Vec<EntryPoint>,
    errors: &mut Vec<StepError>,
) {
    let Some(v) = read_manifest(root, manifest, errors) else {
        return;
    };
    let dir = Path::new(manifest).parent().unwrap_or(Path::new(""));
    let package = v
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    if let Some(bins) = v.get("bin").and_then(|b| b.as_array()) {
        for b in bins {
            let name = b
                .get("name")
                .and_then(|n| n.as_str())
                .or(package)
                .unwrap_or("?");
            let path = b
                .get("path")
                .and_then(|p| p.as_str())
                .unwrap_or("src/main.rs");
            out.push(EntryPoint {
                name: name.into(),
                declared_in: manifest.into(),
                target: dir.join(path).display().to_string(),
            });
        }
    } else if let Some(name) = package
        && listed.contains(dir.join("src/main.rs").to_string_lossy().as_ref())
    {
        out.push(EntryPoint {
            name: name.into(),
            declared_in: manifest.into(),
            target: dir.join("src/main.rs").display().to_string(),
        });
    }
}

fn console_scripts(root: &Path, out: &mut Vec<EntryPoint>, errors: &mut Vec<StepError>) {
    let Some(v) = read_manifest(root, "pyproject.toml", errors) else {
        return;
    };
    let tables = [
        v.get("project").and_then(|p| p.get("scripts")),
        v.get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("scripts")),
    ];
    for t in tables.into_iter().flatten() {
        if let Some(t) = t.as_table() {
            for (name, target) in t {
                out.push(EntryPoint {
                    name: name.clone(),
                    declared_in: "pyproject.toml".into(),
                    target: target.as_str().unwrap_or("").into(),
                });
            }
        }
    }
}

/// Builds the map from the inventory; manifests are read, never run. Only
/// manifests the inventory lists (regular files, never links) are read.
pub fn repo_map(root: &Path, files: &[FileEntry]) -> (RepoMap, Vec<StepError>) {
    let mut errors = Vec::new();
    let mut counts: BTreeMap<&str, _> = BTreeMap::new();
    for f in files {
        let top = f.path.split_once('/').map_or(".", |(dir, _)| dir);
        *counts.entry(top).or_insert(0) += 1;
    }
    let folders = counts
        .into_iter()
        .map(|(top, n)| (top.to_owned(), n))
        .collect();
    let key_files = KEY_FILES
        .iter()
        .filter(|k| {
            let dir = format!("{k}/");
            files
                .iter()
                .any(|f| f.path == **k || f.path.starts_with(&dir))
        })
        .map(|k| (*k).to_owned())
        .collect();
    let mut entry_points = Vec::new();
    // Inventory paths are relative, `/`-separated and normalized, so a
    // manifest's `src/main.rs` is found by its string (one lookup, not a scan
    // of every file per manifest: the cargo registry has 2,000 manifests).
    let listed: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for f in files
        .iter()
        .filter(|f| f.path == "Cargo.toml" || f.path.ends_with("/Cargo.toml"))
    {
        cargo_bins(root, &listed, &f.path, &mut entry_points, &mut errors);
    }
    if files.iter().any(|f| f.path == "pyproject.toml") {
        console_scripts(root, &mut entry_points, &mut errors);
    }
    entry_points.sort();
    let map = RepoMap {
        folders,
        key_files,
        entry_points,
    };
    (map, errors)
}
