//! End-to-end tests of the `codex` binary: exit codes, messages and output of the real commands.

use std::path::Path;
use std::process::{Command, Output};

fn codex(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codex"));
    cmd.args(args).current_dir(dir).env_remove("RUST_LOG");
    // Configuration variables from the developer's shell must not leak into tests.
    for (k, _) in std::env::vars() {
        if k.starts_with("CODEX_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("codex binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[track_caller]
fn check_invalid_fixture(name: &str, expect_in_stderr: &[&str]) {
    let path = format!("tests/data/config/{name}");
    let o = codex(&["config", "validate", &path], &[], repo());
    assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
    let err = stderr(&o);
    for e in expect_in_stderr {
        assert!(err.contains(e), "{name}: expected {e:?} in {err}");
    }
    assert!(o.stdout.is_empty());
}

#[test]
fn validate_rejects_bad_fixtures_with_exit_2() {
    check_invalid_fixture(
        "typo-section.yaml",
        &[
            "unknown key `trian` (did you mean `train`?)",
            "typo-section.yaml",
        ],
    );
    check_invalid_fixture(
        "wrong-type.toml",
        &["`train.lr` expects a floating point number, found string \"fast\""],
    );
    check_invalid_fixture(
        "rule-violations.yaml",
        &[
            "3 problems",
            "`model.d_model` must be divisible by model.n_head (4), got 130",
            "`train.lr` must be > 0, got 0",
            "`train.min_lr` must be in [0, train.lr], got 0.0003",
        ],
    );
}

#[test]
fn every_example_config_is_valid() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if !matches!(ext, "yaml" | "yml" | "toml") {
            continue;
        }
        let o = codex(&["config", "validate", path.to_str().unwrap()], &[], repo());
        assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
        checked += 1;
    }
    assert!(checked >= 2, "examples/ lost its configs");
}

#[test]
fn validate_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.toml"), "[train]\nlr = 0.01\n").unwrap();
    let o = codex(&["config", "validate", "job.toml"], &[], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("is a valid codex configuration"));
}

#[test]
fn override_type_error_names_path_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["config", "show", "train.lr=abc"], &[], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("`train.lr` expects a floating point number, found string \"abc\""),
        "{err}"
    );
}

#[test]
fn origin_shows_the_environment_layer() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(
        &["config", "show", "--origin", "train.max_steps=77"],
        &[("CODEX_TRAIN__LR", "0.5")],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = |key: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("train.lr"),
        "train.lr 0.5 environment variable `CODEX_TRAIN__LR`"
    );
    assert_eq!(
        line("train.max_steps"),
        "train.max_steps 77 command-line override `train.max_steps=77`"
    );
    assert_eq!(line("train.beta1"), "train.beta1 0.9 embedded default");
}

#[test]
fn show_prints_yaml_that_validates_again() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["config", "show", "run.name=again"], &[], dir.path());
    assert!(o.status.success());
    std::fs::write(dir.path().join("resolved.yaml"), stdout(&o)).unwrap();
    let o = codex(&["config", "validate", "resolved.yaml"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unbuilt_commands_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["train"][..],
        &["tokenizer", "inspect", "tok.json"],
        &["data", "verify", "d"],
        &["runs", "list"],
        &["audit"],
    ] {
        let o = codex(args, &[], dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("is not available yet"), "{err}");
        assert!(o.stdout.is_empty(), "{args:?} printed output");
    }
}

#[test]
fn registry_lists_the_compiled_backend_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["registry", "list", "--json"], &[], dir.path());
    assert!(o.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let has = |kind: &str, name: &str| rows.iter().any(|r| r["kind"] == kind && r["name"] == name);
    assert!(has("text-filter", "pass-through"));
    #[cfg(feature = "flex")]
    assert!(has("backend", "flex"));
    #[cfg(not(feature = "cuda"))]
    assert!(!has("backend", "cuda"));
}

#[test]
fn system_reports_cpu_memory_and_backends() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["system", "--json"], &[], dir.path());
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["host"]["cpu_logical"].as_u64().unwrap() >= 1);
    assert!(v["host"]["memory_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["devices"][0]["device"], "cpu");
    let compiled: Vec<&str> = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["compiled"] == true)
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        compiled,
        v["codex"]["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect::<Vec<_>>()
    );
    let table = stdout(&codex(&["system"], &[], dir.path()));
    assert!(
        table.contains("backends") && table.contains("devices"),
        "{table}"
    );
}

#[test]
fn completions_cover_the_command_tree() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = codex(&["completions", shell], &[], dir.path());
        assert!(o.status.success(), "{shell}");
        let script = stdout(&o);
        for sub in ["train", "tokenizer", "registry", "completions"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
}

#[test]
fn version_names_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&codex(&["--version"], &[], dir.path()));
    assert!(
        out.starts_with(concat!("codex ", env!("CARGO_PKG_VERSION"), " (")),
        "{out}"
    );
    assert!(out.contains("rustc "), "{out}");
}

#[test]
fn schema_command_matches_the_committed_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["config", "schema"], &[], dir.path());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&o), committed);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["config", "frobnicate"], &[], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let o = codex(&["config", "validate", "missing.yaml"], &[], dir.path());
    assert_eq!(o.status.code(), Some(1), "a missing file is an I/O failure");
    assert!(stderr(&o).contains("missing.yaml"));
}
