//! The incremental cache: a repeat audit parses only changed files, and every
//! report is byte-identical to a cold audit's; a corrupt or foreign entry is
//! ignored and replaced.

use std::path::Path;

use codex_audit::{CacheStats, InventoryOptions, run_audit_counted};

fn tree(dir: &Path) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/complexity");
    for name in ["branches.py", "shapes.py", "nested.py"] {
        std::fs::copy(data.join(name), dir.join(name)).unwrap();
    }
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "fn f(x: u8) -> u8 { if x > 1 { x } else { 0 } } // TODO\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/app.js"),
        "function g(a) { return a && a.b || null }\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "# Demo\n\nA tree to audit.\n").unwrap();
}

fn audit(root: &Path, cache: Option<&Path>) -> (String, Option<CacheStats>) {
    let options = InventoryOptions {
        cache: cache.map(Path::to_path_buf),
        ..InventoryOptions::default()
    };
    let (audit, stats) =
        run_audit_counted(root, &options, "2026-01-01T00:00:00Z".into(), &|_, _| {});
    (serde_json::to_string_pretty(&audit).unwrap(), stats)
}

#[test]
fn a_repeat_audit_parses_only_changed_files_and_reports_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    tree(&root);
    let cache = dir.path().join("cache");
    let (cold, none) = audit(&root, None);
    assert_eq!(none, None);

    // First use: everything parsed and stored.
    let (first, s) = audit(&root, Some(&cache));
    assert_eq!(first, cold, "a cached audit reports what a cold one does");
    let s = s.unwrap();
    assert_eq!((s.hits, s.rejected), (0, 0));
    let parsed_files = s.misses;
    assert!(parsed_files >= 5, "{s:?}");

    // Unchanged: nothing parsed.
    let (again, s) = audit(&root, Some(&cache));
    assert_eq!(again, cold);
    assert_eq!(
        s.unwrap(),
        CacheStats {
            hits: parsed_files,
            misses: 0,
            rejected: 0
        }
    );

    // One file edited: only it is parsed, and the report equals a cold audit's.
    std::fs::write(
        root.join("src/lib.rs"),
        "fn f(x: u8) -> u8 { if x > 1 && x < 9 { x } else { 0 } }\n",
    )
    .unwrap();
    let (cold_edited, _) = audit(&root, None);
    assert_ne!(cold_edited, cold);
    let (edited, s) = audit(&root, Some(&cache));
    assert_eq!(edited, cold_edited);
    assert_eq!(
        s.unwrap(),
        CacheStats {
            hits: parsed_files - 1,
            misses: 1,
            rejected: 0
        }
    );

    // A corrupt entry and a foreign one (another file's entry copied over it)
    // are detected, never trusted, and replaced.
    let mut entries: Vec<_> = walk(&cache);
    entries.sort();
    let bytes = std::fs::read(&entries[0]).unwrap();
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 2;
    corrupt[last] ^= 0x20;
    std::fs::write(&entries[0], &corrupt).unwrap();
    std::fs::copy(&entries[2], &entries[1]).unwrap();
    let (after, s) = audit(&root, Some(&cache));
    assert_eq!(after, cold_edited);
    let s = s.unwrap();
    assert_eq!((s.rejected, s.misses), (2, 2), "{s:?}");
    let (healed, s) = audit(&root, Some(&cache));
    assert_eq!(healed, cold_edited);
    assert_eq!(
        s.unwrap().misses,
        0,
        "the replaced entries are used next time"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_cache_inside_the_tree_is_not_audited() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let cache = dir.path().join("reports/.cache");
    let (cold, _) = audit(dir.path(), None);
    let _ = audit(dir.path(), Some(&cache));
    let (warm, s) = audit(dir.path(), Some(&cache));
    assert_eq!(warm, cold, "the cache's own files never enter the report");
    assert_eq!(s.unwrap().misses, 0);
}
