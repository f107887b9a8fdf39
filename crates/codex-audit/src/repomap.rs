//! The repo map: top-level folders with file counts, key files, entry points.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::inventory::FileEntry;

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

fn cargo_bins(root: &Path, manifest: &str, out: &mut Vec<EntryPoint>) {
    let Ok(text) = std::fs::read_to_string(root.join(manifest)) else {
        return;
    };
    let Ok(v) = text.parse::<toml::Table>() else {
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
        && root.join(dir).join("src/main.rs").is_file()
    {
        out.push(EntryPoint {
            name: name.into(),
            declared_in: manifest.into(),
            target: dir.join("src/main.rs").display().to_string(),
        });
    }
}

fn console_scripts(root: &Path, out: &mut Vec<EntryPoint>) {
    let Ok(text) = std::fs::read_to_string(root.join("pyproject.toml")) else {
        return;
    };
    let Ok(v) = text.parse::<toml::Table>() else {
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

/// Builds the map from the inventory; manifests are read, never run.
pub fn repo_map(root: &Path, files: &[FileEntry]) -> RepoMap {
    let mut folders = BTreeMap::new();
    for f in files {
        let top = match f.path.split_once('/') {
            Some((dir, _)) => dir.to_owned(),
            None => ".".to_owned(),
        };
        *folders.entry(top).or_insert(0) += 1;
    }
    let key_files = KEY_FILES
        .iter()
        .filter(|k| {
            files
                .iter()
                .any(|f| f.path == **k || f.path.starts_with(&format!("{k}/")))
        })
        .map(|k| (*k).to_owned())
        .collect();
    let mut entry_points = Vec::new();
    for f in files.iter().filter(|f| f.path.ends_with("Cargo.toml")) {
        cargo_bins(root, &f.path, &mut entry_points);
    }
    console_scripts(root, &mut entry_points);
    entry_points.sort();
    RepoMap {
        folders,
        key_files,
        entry_points,
    }
}
