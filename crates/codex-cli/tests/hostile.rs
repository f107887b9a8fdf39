//! A hostile tree: links to `/proc`, `/dev/zero` and files outside, FIFOs,
//! deep nesting, huge and sparse files, invalid UTF-8 names and names that
//! inject Markdown. `codex audit` and `codex safety scan` run over it within a
//! time and memory bound, write nothing outside their output directory, and
//! put no byte of the environment into any report.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What no report may contain: it is only in the child's environment.
const CANARY: &str = "canary-7f3c1e9a-do-not-leak";
/// Wall-clock bound per command.
const TIME_LIMIT: Duration = Duration::from_secs(120);
/// Address-space bound per command (KiB for `ulimit -v`).
const MEMORY_LIMIT_KIB: u64 = 8 << 20;

/// Runs `codex` under `ulimit -v` and a wall-clock limit, with the canary in
/// its environment.
fn bounded(args: &[&str], dir: &Path) -> Output {
    let mut script = format!("ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_codex"))
        .args(args)
        .current_dir(dir)
        .env("CODEX_HOSTILE_CANARY", CANARY)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            panic!("codex {args:?} ran past {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Every file under `dir` (links not followed) with its bytes (files up to
/// 1 MiB; larger ones by size and modification time).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let m = e.metadata().unwrap();
                let bytes = if m.len() <= 1 << 20 {
                    std::fs::read(e.path()).unwrap()
                } else {
                    format!("{} {:?}", m.len(), m.modified().unwrap()).into_bytes()
                };
                out.insert(e.path(), bytes);
            } else {
                out.insert(e.path(), Vec::new());
            }
        }
    }
    out
}

/// The hostile tree at `root`, with the files its links point to in `outside`.
fn hostile_tree(root: &Path, outside: &Path) {
    write(&outside.join("bashrc"), "# the user's shell rc\n");
    write(&outside.join("secret.txt"), "outside-secret-value\n");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::create_dir_all(root).unwrap();
    // Reads that would leak or never end.
    symlink("/proc/self/environ", root.join("README.md")).unwrap();
    symlink("/dev/zero", root.join("pyproject.toml")).unwrap();
    symlink("/dev/zero", root.join(".gitignore")).unwrap();
    symlink("/dev/zero", root.join("zero.py")).unwrap();
    symlink(outside.join("secret.txt"), root.join("linked-secret.txt")).unwrap();
    symlink(outside, root.join("outside-dir")).unwrap();
    symlink("/", root.join("root-link")).unwrap();
    mkfifo(&root.join("Cargo.toml"));
    mkfifo(&root.join("src-fifo.py"));
    // Writes that would escape: the error log through a planted link, and a
    // report directory that is a link out of the tree.
    std::fs::create_dir_all(root.join(".codex")).unwrap();
    symlink(outside.join("bashrc"), root.join(".codex/errors.ndjson")).unwrap();
    symlink(outside.join("dir"), root.join("reports")).unwrap();
    write(&root.join("$(touch PWNED).py"), "def broken(:\n");
    // Deep nesting: a directory chain and a parse tree.
    let mut deep = root.join("deep");
    for i in 0..300 {
        deep.push(format!("d{i}"));
    }
    write(&deep.join("leaf.py"), "def leaf():\n    return 1\n");
    write(
        &root.join("parens.py"),
        format!("x = {}1 +{}\n", "(".repeat(50_000), ")".repeat(50_000)),
    );
    write(
        &root.join("parens_ok.py"),
        format!(
            "def f():\n    return {}1{}\n",
            "(".repeat(50_000),
            ")".repeat(50_000)
        ),
    );
    // Huge and sparse.
    let sparse = std::fs::File::create(root.join("sparse.bin")).unwrap();
    sparse.set_len(64 << 30).unwrap();
    let sparse_text = std::fs::File::create(root.join("sparse.txt")).unwrap();
    sparse_text.set_len(3 << 30).unwrap();
    // Names: invalid UTF-8, and names that inject Markdown and HTML.
    write(
        &root.join(std::ffi::OsStr::from_bytes(b"bad-\xff\xfe-name.py")),
        "def f():\n    pass\n",
    );
    write(
        &root.join("evil|name\n# Injected heading\n<script>alert(1)</script>.py"),
        "def g(a):\n    if a:\n        return 1\n    return 2\n",
    );
    write(
        &root.join("inject/Cargo.toml"),
        "[package]\nname = \"x\"\n\n[[bin]]\nname = \"x\\n# Owned\\n<img src=x onerror=alert(1)>\"\npath = \"src/main.rs\"\n",
    );
    write(&root.join("inject/src/main.rs"), "fn main() {}\n");
}

fn check_no_canary(text: &str, what: &str) {
    assert!(!text.contains(CANARY), "the environment leaked into {what}");
}

#[test]
fn audit_and_scan_of_a_hostile_tree_stay_inside_their_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hostile");
    let outside = tmp.path().join("outside");
    hostile_tree(&root, &outside);
    let before_outside = snapshot(&outside);
    let before_tree = snapshot(&root);

    // The audit, reports outside the tree.
    let out = tmp.path().join("out");
    let o = bounded(
        &[
            "audit",
            root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--timestamp",
            "2026-01-01T00:00:00Z",
        ],
        tmp.path(),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    check_no_canary(&stdout, "stdout");
    check_no_canary(&stderr, "stderr");
    let reports = snapshot(&out);
    for (path, bytes) in &reports {
        check_no_canary(&String::from_utf8_lossy(bytes), &path.display().to_string());
    }
    let audit: serde_json::Value =
        serde_json::from_slice(&reports[&out.join("audit.json")]).unwrap();
    let skipped: BTreeMap<&str, &str> = audit["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    for (path, reason) in [
        ("README.md", "symbolic link"),
        ("pyproject.toml", "symbolic link"),
        (".gitignore", "symbolic link"),
        ("linked-secret.txt", "symbolic link"),
        ("outside-dir", "symbolic link"),
        ("Cargo.toml", "special file"),
        ("src-fifo.py", "special file"),
        ("reports", "symbolic link"),
    ] {
        assert_eq!(skipped.get(path), Some(&reason), "{path}: {skipped:?}");
    }
    let errors = audit["errors"].to_string();
    assert!(errors.contains("README.md"), "{errors}");
    assert!(errors.contains("parens.py"), "{errors}");
    let files: Vec<&str> = audit["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        files.iter().any(|p| p.ends_with("d299/leaf.py")),
        "deep file missing"
    );
    assert!(
        files
            .iter()
            .all(|p| !p.starts_with("root-link/") && !p.starts_with("outside-dir/"))
    );
    // Markdown stays inert: no injected heading, tag or image.
    for name in ["audit.md", "repo_map.md"] {
        let md = String::from_utf8_lossy(&reports[&out.join(name)]).into_owned();
        for bad in ["\n# Injected", "\n# Owned", "<script>", "<img"] {
            assert!(!md.contains(bad), "{name} carries {bad:?}:\n{md}");
        }
    }
    // The error log is in the output directory, not through the tree's link.
    assert!(reports.contains_key(&out.join("errors.ndjson")));

    // The audit with its default output directory inside the tree, where
    // `reports` is a link out: refused, nothing written.
    let o = bounded(&["audit", "."], &root);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("symbolic link"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The scan: links and FIFOs listed, huge files listed, bounded.
    let o = bounded(
        &["safety", "scan", root.to_str().unwrap(), "--format", "json"],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    check_no_canary(&stdout, "the scan report");
    check_no_canary(&String::from_utf8_lossy(&o.stderr), "the scan's stderr");
    assert!(!stdout.contains("outside-secret-value"));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let skipped: BTreeMap<String, String> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let p = s["path"].as_str().unwrap();
            let rel = p.strip_prefix(root.to_str().unwrap()).unwrap_or(p);
            (
                rel.trim_start_matches('/').to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (path, reason) in [
        ("README.md", "symbolic link"),
        ("zero.py", "symbolic link"),
        ("Cargo.toml", "special file"),
        ("sparse.bin", "too large"),
        ("sparse.txt", "too large"),
    ] {
        assert_eq!(
            skipped.get(path).map(String::as_str),
            Some(reason),
            "{path}: {skipped:?}"
        );
    }

    assert_eq!(snapshot(&outside), before_outside, "a file outside changed");
    assert_eq!(snapshot(&root), before_tree, "the audited tree changed");
    assert!(!tmp.path().join("PWNED").exists() && !root.join("PWNED").exists());
}
