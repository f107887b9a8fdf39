//! The incremental cache: a repeat audit parses only changed files, does not
//! even read files whose `lstat` is unchanged, and every report is
//! byte-identical to a cold audit's; a corrupt or foreign entry or index is
//! ignored and replaced.

use std::path::Path;
use std::time::{Duration, SystemTime};

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

    // Unchanged: nothing parsed (whether the files are read again depends on
    // how long ago they were written; see the next test).
    let (again, s) = audit(&root, Some(&cache));
    assert_eq!(again, cold);
    let s = s.unwrap();
    assert_eq!(
        (s.hits, s.misses, s.rejected),
        (parsed_files, 0, 0),
        "{s:?}"
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
    let s = s.unwrap();
    assert_eq!(
        (s.hits, s.misses, s.rejected),
        (parsed_files - 1, 1, 0),
        "{s:?}"
    );

    // Every file touched (a fresh checkout of the same tree looks like
    // this): all are read again, and none is parsed.
    touch_all(
        &root,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000),
    );
    let (touched, s) = audit(&root, Some(&cache));
    assert_eq!(touched, cold_edited);
    assert_eq!(
        s.unwrap(),
        CacheStats {
            hits: parsed_files,
            misses: 0,
            rejected: 0,
            unread: 0
        }
    );
}

#[test]
fn an_unchanged_file_is_not_read_again_and_an_edit_is_always_seen() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).unwrap();
    tree(&root);
    std::fs::write(root.join("logo.bin"), [0u8, 1, 2, 3]).unwrap();
    let files = walk(&root).len();
    let cache = dir.path().join("cache");
    let (cold, _) = audit(&root, None);
    // An index row is trusted only for a file whose change time is older
    // than the audit that recorded it by the racy margin (two seconds).
    std::thread::sleep(Duration::from_millis(2_100));
    let (first, s) = audit(&root, Some(&cache));
    assert_eq!(first, cold);
    let s = s.unwrap();
    assert_eq!(s.unread, 0, "{s:?}");
    let parsed_files = s.misses;

    // Nothing changed: no file is read, and the report is the same.
    let (again, s) = audit(&root, Some(&cache));
    assert_eq!(again, cold);
    assert_eq!(
        s.unwrap(),
        CacheStats {
            hits: parsed_files,
            misses: 0,
            rejected: 0,
            unread: files,
        }
    );

    // An edit that keeps the size and puts the modification time back is
    // still seen (the change time moved), and only that file is read.
    let lib = root.join("src/lib.rs");
    let modified = std::fs::metadata(&lib).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&lib).unwrap();
    let edited_text = text.replace("x > 1", "x > 7");
    assert_eq!(edited_text.len(), text.len());
    std::fs::write(&lib, &edited_text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lib)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&lib).unwrap().modified().unwrap(),
        modified
    );
    let (cold_edited, _) = audit(&root, None);
    assert_ne!(cold_edited, cold);
    let (edited, s) = audit(&root, Some(&cache));
    assert_eq!(edited, cold_edited);
    let s = s.unwrap();
    assert_eq!(
        (s.misses, s.hits, s.unread),
        (1, parsed_files - 1, files - 1),
        "{s:?}"
    );

    // A corrupt index is detected and ignored: every file is read and
    // parsed again, and the index is replaced.
    let index = index_of(&cache);
    let mut bytes = std::fs::read(&index).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&index, &bytes).unwrap();
    let (after, s) = audit(&root, Some(&cache));
    assert_eq!(after, cold_edited);
    let s = s.unwrap();
    assert_eq!(
        (s.rejected, s.unread, s.misses, s.hits),
        (1, 0, parsed_files, 0),
        "{s:?}"
    );
    let (healed, s) = audit(&root, Some(&cache));
    assert_eq!(healed, cold_edited);
    let s = s.unwrap();
    assert_eq!((s.rejected, s.misses), (0, 0), "{s:?}");

    // A foreign index (another tree's, intact, copied over this one's) is
    // not trusted either.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("lib.rs"), "fn g() {}\n").unwrap();
    let other_cache = dir.path().join("other-cache");
    let _ = audit(&other, Some(&other_cache));
    std::fs::copy(index_of(&other_cache), &index).unwrap();
    let (foreign, s) = audit(&root, Some(&cache));
    assert_eq!(foreign, cold_edited);
    let s = s.unwrap();
    assert_eq!(
        (s.rejected, s.unread, s.misses),
        (1, 0, parsed_files),
        "{s:?}"
    );

    // This root's own intact index, copied into another cache directory (as
    // a tree could ship one in `reports/.cache`): its checksum is keyed by
    // the directory's device and inode, so it is not trusted there.
    let name = index_of(&cache).file_name().unwrap().to_owned();
    let shipped = dir.path().join("shipped");
    std::fs::create_dir(&shipped).unwrap();
    std::fs::copy(index_of(&cache), shipped.join(&name)).unwrap();
    let (copied, s) = audit(&root, Some(&shipped));
    assert_eq!(copied, cold_edited);
    let s = s.unwrap();
    assert_eq!((s.rejected, s.misses), (1, parsed_files), "{s:?}");

    // An index that is a link is not followed (to /dev/zero, reading it
    // would never end), and is replaced by a real one.
    #[cfg(unix)]
    {
        let linked = dir.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::os::unix::fs::symlink("/dev/zero", linked.join(&name)).unwrap();
        let (through, s) = audit(&root, Some(&linked));
        assert_eq!(through, cold_edited);
        assert_eq!(s.unwrap().rejected, 1);
        assert!(
            std::fs::symlink_metadata(linked.join(&name))
                .unwrap()
                .is_file()
        );
    }
}

/// The one index in a cache directory.
fn index_of(cache: &Path) -> std::path::PathBuf {
    let found: Vec<_> = walk(cache).into_iter().filter(|p| is_index(p)).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Sets every file's modification time under `dir`.
fn touch_all(dir: &Path, to: SystemTime) {
    for p in walk(dir) {
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(to)
            .unwrap();
    }
}

fn is_index(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("index-"))
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
