//! End-to-end tests of the `codex` binary: exit codes, messages and output of the real commands.

use std::path::Path;
use std::process::{Command, Output};

fn codex_stdin(args: &[&str], dir: &Path, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_codex"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

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
            "4 problems",
            "`model.d_model` must be divisible by model.n_head (4), got 130",
            "`model.n_kv_head` must equal model.n_head (4) for the gpt2 family",
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
    // A short run under the default warmup is fitted, with a warning.
    let o = codex(
        &["config", "validate", "job.toml", "train.max_steps=5"],
        &[],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("train.warmup_steps: the default 50 is more than train.max_steps (5)"),
        "{}",
        stderr(&o)
    );
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
fn registry_lists_the_compiled_backend_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["registry", "list", "--json"], &[], dir.path());
    assert!(o.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let has = |kind: &str, name: &str| rows.iter().any(|r| r["kind"] == kind && r["name"] == name);
    assert!(has("text-filter", "pass-through"));
    for kind in ["bpe", "unigram", "wordpiece", "wordlevel", "sentencepiece"] {
        assert!(has("tokenizer", kind), "{kind}");
    }
    for format in ["auto", "lines", "blocks", "jsonl", "csv"] {
        assert!(has("data-format", format), "{format}");
    }
    for family in [
        "gpt2", "llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2",
    ] {
        assert!(has("model-family", family), "{family}");
    }
    for arch in [
        "gpt2-tiny",
        "gpt2-small",
        "llama-tiny",
        "llama3-tiny",
        "qwen2-tiny",
        "qwen3-tiny",
        "mistral-tiny",
        "phi3-tiny",
        "gemma2-tiny",
    ] {
        assert!(has("architecture", arch), "{arch}");
    }
    for metric in [
        "bleu",
        "chrf",
        "chrf++",
        "rouge",
        "rougeLsum",
        "em",
        "f1",
        "distinct",
    ] {
        assert!(has("metric", metric), "{metric}");
    }
    #[cfg(feature = "flex")]
    assert!(has("backend", "flex"));
    #[cfg(not(feature = "cuda"))]
    assert!(!has("backend", "cuda"));
}

#[test]
fn model_import_export_inspect_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let hf = repo().join("tests/data/model/export/gpt2");
    let hf = hf.to_str().unwrap();
    let o = codex(&["model", "import", hf, "--out", "native"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("29,568 parameters"), "{}", stdout(&o));
    let o = codex(&["model", "inspect", "native", "--json"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "native burnpack record");
    assert_eq!(v["parameters"]["total"], 29_568);
    assert_eq!(v["parameters"]["stored_values"], 29_568);
    assert_eq!(v["files"][0]["blake3"].as_str().unwrap().len(), 64);
    let o = codex(
        &["model", "export", "native", "--out", "hf"],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // codex wrote the committed file, so import then export gives it back byte for byte.
    let original = std::fs::read(Path::new(hf).join("model.safetensors")).unwrap();
    let exported = std::fs::read(dir.path().join("hf/model.safetensors")).unwrap();
    assert!(original == exported);
    let o = codex(&["model", "inspect", "llama-10m"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("named architecture"), "{}", stdout(&o));
}

#[test]
fn model_commands_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["model", "inspect", "no-such-thing"], &[], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-thing"), "{}", stderr(&o));
    std::fs::create_dir(dir.path().join("bad")).unwrap();
    std::fs::write(
        dir.path().join("bad/config.json"),
        r#"{"model_type": "bert"}"#,
    )
    .unwrap();
    let o = codex(&["model", "import", "bad", "--out", "x"], &[], dir.path());
    assert_eq!(
        o.status.code(),
        Some(2),
        "a model codex cannot read is bad input"
    );
    let err = stderr(&o);
    assert!(
        err.contains("unsupported model_type `bert`") && err.contains("gpt2, llama"),
        "{err}"
    );
    assert!(!dir.path().join("x").exists(), "nothing written on failure");
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
    // With --verbose: every fact of the build, backends and features included.
    let out = stdout(&codex(&["--version", "--verbose"], &[], dir.path()));
    for key in [
        "codex ",
        "commit ",
        "rustc ",
        "target ",
        "profile ",
        "backends ",
        "features ",
    ] {
        assert!(out.lines().any(|l| l.starts_with(key)), "{key}: {out}");
    }
    assert!(out.contains("flex"), "{out}");
}

#[test]
fn man_pages_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(&["man", "man1"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    for page in [
        "codex.1",
        "codex-train.1",
        "codex-eval-text.1",
        "codex-runs-compare.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join("man1").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
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
    assert_eq!(o.status.code(), Some(2), "a missing file is bad input");
    assert!(stderr(&o).contains("missing.yaml"));
}

fn tok_data(name: &str) -> String {
    repo()
        .join("crates/codex-tokenize/tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn tokenizer_train_encode_decode_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = tok_data("corpus.txt");
    let o = codex(
        &[
            "tokenizer",
            "train",
            &corpus,
            "--out",
            "tok",
            "tokenizer.vocab_size=400",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("trained bpe tokenizer: 400 tokens from 1500 documents"));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tok/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["vocab_size_requested"], 400);
    assert_eq!(manifest["command_line"][1], "tokenizer");

    let o = codex(
        &[
            "tokenizer",
            "encode",
            "-t",
            "tok/tokenizer.json",
            "The river moves",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<u32> = serde_json::from_slice(&o.stdout).unwrap();
    let id_args: Vec<String> = ids.iter().map(u32::to_string).collect();
    let mut args = vec!["tokenizer", "decode", "-t", "tok/tokenizer.json"];
    args.extend(id_args.iter().map(String::as_str));
    let o = codex(&args, &[], dir.path());
    assert_eq!(stdout(&o), "The river moves\n");

    // Lines from stdin as NDJSON, and ids back from stdin as a JSON array.
    let o = codex_stdin(
        &[
            "tokenizer",
            "encode",
            "-t",
            "tok/tokenizer.json",
            "--format",
            "ndjson",
        ],
        dir.path(),
        b"one line\nsecond line\n",
    );
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["line"], 2);
    let o = codex_stdin(
        &["tokenizer", "decode", "-t", "tok/tokenizer.json"],
        dir.path(),
        lines[1]["ids"].to_string().as_bytes(),
    );
    assert_eq!(stdout(&o), "second line\n");
}

#[test]
fn tokenizer_encode_reports_invalid_utf8_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex_stdin(
        &["tokenizer", "encode", "-t", &tok_data("hf-bpe.json")],
        dir.path(),
        b"fine\nbad \xff byte\n",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid UTF-8 in `stdin` at line 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tokenizer_sentencepiece_encode_inspect_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(
        &[
            "tokenizer",
            "encode",
            "-t",
            &tok_data("spm-unigram.model"),
            "Hello world",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let info = codex(
        &[
            "tokenizer",
            "inspect",
            "--json",
            &tok_data("spm-unigram.model"),
        ],
        &[],
        dir.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        (v["format"].as_str(), v["model"].as_str()),
        (Some("sentencepiece"), Some("unigram"))
    );
    let stats = codex(
        &[
            "tokenizer",
            "stats",
            "--json",
            "-t",
            &tok_data("hf-bpe.json"),
            &tok_data("corpus.txt"),
        ],
        &[],
        dir.path(),
    );
    let s: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(s["documents"], 1500);
    assert_eq!(s["unknown_tokens"], 0);
    assert!(s["bytes_per_token"].as_f64().unwrap() > 1.0);
}

#[test]
fn tokenizer_validate_fails_on_a_lossy_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    // The WordPiece fixture lowercases, so capitalised documents cannot round-trip.
    let o = codex(
        &[
            "tokenizer",
            "validate",
            "-t",
            &tok_data("hf-wordpiece.json"),
            &tok_data("corpus.txt"),
            "--show",
            "1",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("differs at character 0"),
        "{}",
        stderr(&o)
    );
    let o = codex(
        &[
            "tokenizer",
            "validate",
            "-t",
            &tok_data("hf-bpe.json"),
            &tok_data("corpus.txt"),
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1500 of 1500 documents round-trip exactly\n");
}

#[test]
fn tokenizer_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "{ not a tokenizer").unwrap();
    let o = codex(&["tokenizer", "inspect", "bad.json"], &[], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot load tokenizer `bad.json`"),
        "{}",
        stderr(&o)
    );
    let o = codex(
        &[
            "tokenizer",
            "train",
            &tok_data("corpus.txt"),
            "--out",
            "t",
            "tokenizer.vocab_size=10",
        ],
        &[],
        dir.path(),
    );
    assert!(
        stderr(&o).contains("vocabulary size 10 is smaller than the alphabet"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn data_synth_prepare_inspect_verify() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex(
        &[
            "data",
            "synth",
            "--size",
            "300KB",
            "--seed",
            "3",
            "--out",
            "corpus.txt",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let corpus = std::fs::read_to_string(dir.path().join("corpus.txt")).unwrap();
    assert!(corpus.len() <= 300_000 && corpus.len() > 290_000);
    let o = codex(
        &[
            "data",
            "synth",
            "--size",
            "300KB",
            "--seed",
            "3",
            "--out",
            "again.txt",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.txt")).unwrap(),
        corpus
    );

    let tok = tok_data("hf-bpe.json");
    let args = [
        "data",
        "prepare",
        "-t",
        &tok,
        "--out",
        "ds",
        "data.sources=[corpus.txt]",
    ];
    let o = codex(&args, &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("prepared ds in"), "{}", stdout(&o));
    let o = codex(&args, &[], dir.path());
    assert!(stdout(&o).contains("is up to date"), "{}", stdout(&o));
    // Sources given as arguments are the same sources.
    let o = codex(
        &["data", "prepare", "corpus.txt", "-t", &tok, "--out", "ds"],
        &[],
        dir.path(),
    );
    assert!(stdout(&o).contains("is up to date"), "{}", stdout(&o));
    let o = codex(
        &[
            "data",
            "prepare",
            "missing.txt",
            "-t",
            &tok,
            "--out",
            "none",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.txt"), "{}", stderr(&o));

    let o = codex(
        &["data", "inspect", "ds", "-t", &tok, "--samples", "1"],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let first_doc = corpus.lines().next().unwrap();
    assert!(stdout(&o).contains("sample 0: "), "{}", stdout(&o));
    assert!(
        corpus.contains(
            stdout(&o)
                .lines()
                .last()
                .unwrap()
                .trim_start_matches("sample 0: ")
        ),
        "{first_doc}"
    );

    let o = codex(&["data", "verify", "ds"], &[], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let shard = dir.path().join("ds/train-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes.truncate(bytes.len() - 4);
    std::fs::write(&shard, bytes).unwrap();
    let o = codex(&["data", "verify", "ds"], &[], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("train-00000.bin` is corrupt"),
        "{}",
        stderr(&o)
    );

    let o = codex(&["data", "prepare", "--out", "x"], &[], dir.path());
    assert!(
        stderr(&o).contains("no tokenizer: pass --tokenizer"),
        "{}",
        stderr(&o)
    );
    let o = codex(
        &["data", "synth", "--size", "lots", "--out", "y"],
        &[],
        dir.path(),
    );
    assert!(
        stderr(&o).contains("cannot read size `lots`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_text_writes_rows_records_and_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("hyp.txt"),
        "The cat sat on the mat.\nHello, world!\nan apple a day\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ref.txt"),
        "The cat sat on the mat.\nHello world!\nAn apple, a day!\n",
    )
    .unwrap();
    std::fs::write(d.join("base.txt"), "cat\nHello\napple\n").unwrap();
    let args = [
        "eval",
        "text",
        "--hyp",
        "hyp.txt",
        "--ref",
        "ref.txt",
        "--metrics",
        "bleu,rougeL,em",
        "--bootstrap",
        "200",
        "--baseline",
        "base.txt",
        "--out",
        "out",
        "--json",
    ];
    let o = codex(&args, &[], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bleu = &summary["results"][0];
    assert_eq!(
        bleu["signature"],
        "nrefs:1|bs:200|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    );
    assert_eq!(bleu["scale"], "0-100", "{bleu}");
    let value = bleu["values"][0][1].as_f64().unwrap();
    let want = codex_eval::bleu::Bleu::new(Default::default())
        .corpus(
            &[
                "The cat sat on the mat.".into(),
                "Hello, world!".into(),
                "an apple a day".into(),
            ],
            &[
                vec!["The cat sat on the mat.".to_owned()],
                vec!["Hello world!".into()],
                vec!["An apple, a day!".into()],
            ],
        )
        .score;
    assert_eq!(value, want);
    assert_eq!(
        summary["paired"]["results"].as_array().unwrap().len(),
        1 + 3 + 1
    );

    let csv = std::fs::read_to_string(d.join("out/metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("run_id,dataset,split,metric,value,n,ci_low,ci_high,timestamp")
    );
    assert_eq!(lines.count(), 5);
    assert_eq!(
        std::fs::read_to_string(d.join("out/examples.ndjson"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out/metrics.ndjson"))
            .unwrap()
            .lines()
            .count(),
        5
    );

    // The table says each metric's scale: BLEU and SQuAD's EM/F1 in
    // percent as their references print them, accuracy as a fraction.
    let o = codex(
        &[
            "eval",
            "text",
            "--hyp",
            "hyp.txt",
            "--ref",
            "ref.txt",
            "--metrics",
            "bleu,em,accuracy",
            "--out",
            "table",
        ],
        &[],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    let scale = |metric: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{metric} ")))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };
    assert!(table.lines().next().unwrap().ends_with("scale"), "{table}");
    assert_eq!(scale("bleu").as_deref(), Some("0-100"), "{table}");
    assert_eq!(scale("em").as_deref(), Some("0-100"), "{table}");
    assert_eq!(scale("accuracy").as_deref(), Some("0-1"), "{table}");

    // Same inputs and settings: the same run id.
    let again = codex(&args, &[], d);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["run_id"], summary["run_id"]);
}

#[test]
fn eval_bad_input_names_files_lines_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hyp.txt"), "a\nb\nc\n").unwrap();
    std::fs::write(d.join("ref.txt"), "a\nb\n").unwrap();
    std::fs::write(d.join("bad.txt"), b"a\n\xff\nc\n").unwrap();
    std::fs::write(
        d.join("nll.jsonl"),
        "{\"nll\": 1.5, \"tokens\": 3}\n{\"nll\": -2, \"tokens\": 1}\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["eval", "text", "--hyp", "hyp.txt", "--ref", "ref.txt"],
            "hyp.txt has 3 lines but ref.txt has 2",
        ),
        (
            &["eval", "text", "--hyp", "bad.txt", "--ref", "hyp.txt"],
            "bad.txt:2: invalid UTF-8",
        ),
        (
            &[
                "eval",
                "text",
                "--hyp",
                "hyp.txt",
                "--ref",
                "hyp.txt",
                "--metrics",
                "blue",
            ],
            "did you mean `bleu`",
        ),
        (
            &[
                "eval",
                "text",
                "--hyp",
                "hyp.txt",
                "--ref",
                "hyp.txt",
                "eval.bleu.tokenize=14a",
            ],
            "eval.bleu.tokenize",
        ),
        (
            &["eval", "ppl", "--nll", "nll.jsonl"],
            "nll.jsonl:2: nll is -2",
        ),
    ];
    for (args, want) in cases {
        let o = codex(args, &[], d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(
        !d.join("runs").exists(),
        "a failed evaluation wrote a run directory"
    );
}

#[test]
fn safety_scan_reports_in_every_format_and_fails_on_severity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(
        d.join("src/config.py"),
        "DEBUG = True\nSTRIPE = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc9Zq2\"\ncontact = \"ops@corp.io\"\n",
    )
    .unwrap();
    std::fs::write(d.join("src/logo.png"), b"\x89PNG\r\n\x1a\n\x00\x00\x00").unwrap();
    std::fs::write(d.join("src/docs.md"), "Example key: AKIAIOSFODNN7EXAMPLE\n").unwrap();

    let o = codex(&["safety", "scan", "src", "--fail-on", "critical"], &[], d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("src/config.py:2:11  critical  redact  stripe-key"),
        "{table}"
    );
    assert!(
        table.contains("src/config.py:3:12  medium    redact  email"),
        "{table}"
    );
    assert!(table.contains("skipped (binary): src/logo.png"), "{table}");
    assert!(
        !table.contains("sk_live_"),
        "a scan report leaks the secret"
    );
    assert!(stderr(&o).contains("1 findings at severity critical or above"));

    let o = codex(
        &[
            "safety",
            "scan",
            "src",
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        &[("CODEX_SAFETY__FAIL_ON", "high")],
        d,
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 2);
    assert_eq!(report["findings"][0]["offset"], 23);

    let o = codex(
        &["safety", "scan", "src/docs.md", "--format", "sarif"],
        &[],
        d,
    );
    assert!(
        o.status.success(),
        "documentation example keys are allowed: {}",
        stdout(&o)
    );
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"].as_array().unwrap().is_empty());
    assert!(
        !sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn safety_redact_filters_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let o = codex_stdin(
        &["safety", "redact"],
        dir.path(),
        b"mail jane@corp.io, card 4111 1111 1111 1111, ghp_R8x2LmQ9vT4kZ7bN1cW5yH3jF6dS0aP2uE8r\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "mail «REDACTED:email», card «REDACTED:credit-card», «REDACTED:github-token»\n"
    );
}

#[test]
fn safety_redact_reads_files_and_says_what_it_let_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("a.txt"),
        "docs: AKIAIOSFODNN7EXAMPLE, jane.doe@example.com\nreal: bob@corp.io\n",
    )
    .unwrap();
    std::fs::write(d.join("b.txt"), "nothing here\n").unwrap();
    // Files are positional, in order, beside overrides.
    let o = codex(
        &["safety", "redact", "a.txt", "b.txt", "safety.enabled=true"],
        &[],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "docs: AKIAIOSFODNN7EXAMPLE, jane.doe@example.com\nreal: «REDACTED:email»\nnothing here\n"
    );
    assert!(
        stderr(&o).contains("a.txt: 1 span redacted; 2 matches allowlisted by the policy"),
        "{}",
        stderr(&o)
    );
    // The scanner says the same, so a user testing it with the canonical
    // example key knows it was seen.
    let o = codex(
        &["safety", "scan", "a.txt", "--fail-on", "critical"],
        &[],
        d,
    );
    assert!(
        stdout(&o).contains("2 matches allowlisted by the policy"),
        "{}",
        stdout(&o)
    );
    let o = codex(&["safety", "scan", "a.txt", "--format", "json"], &[], d);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["allowlisted"], 2, "{v}");
    let o = codex(&["safety", "redact", "missing.txt"], &[], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.txt"), "{}", stderr(&o));
}

#[test]
fn safety_policy_errors_name_the_key_or_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "hello\n").unwrap();
    std::fs::write(
        d.join("bad-key.yaml"),
        "version: 1\nrules:\n  - id: x\n    regex: 'a'\n    action: explode\n    severity: high\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad-regex.yaml"),
        "version: 1\nrules:\n  - id: broken-rule\n    regex: '(unclosed'\n    action: flag\n    severity: low\n",
    )
    .unwrap();
    std::fs::write(
        d.join("gitleaks.toml"),
        "title = \"mine\"\n[[rules]]\nid = \"my-token\"\nregex = '''tok_[a-z0-9]{12}'''\nkeywords = [\"tok_\"]\n",
    )
    .unwrap();
    std::fs::write(d.join("b.txt"), "value tok_abcdef123456 here\n").unwrap();
    let cases: [(&[&str], &str); 2] = [
        (
            &["safety", "scan", "a.txt", "--policy", "bad-key.yaml"],
            "bad-key.yaml: `rules[0].action`: unknown variant `explode`",
        ),
        (
            &["safety", "scan", "a.txt", "--policy", "bad-regex.yaml"],
            "bad-regex.yaml: rule `broken-rule`: regex does not compile",
        ),
    ];
    for (args, want) in cases {
        let o = codex(args, &[], d);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let o = codex(
        &[
            "safety",
            "scan",
            "b.txt",
            "--policy",
            "gitleaks.toml",
            "--fail-on",
            "high",
        ],
        &[],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("b.txt:1:7  high      redact  my-token"),
        "{}",
        stdout(&o)
    );
    // CODEX_SAFETY_POLICY selects a policy too.
    let o = codex(
        &["safety", "scan", "a.txt"],
        &[("CODEX_SAFETY_POLICY", "bad-regex.yaml")],
        d,
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn runs_commands_name_what_is_wrong_with_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("runs/empty")).unwrap();
    std::fs::create_dir_all(d.join("runs/torn")).unwrap();
    std::fs::write(
        d.join("runs/torn/metrics.ndjson"),
        "{\"step\":1,\"epoch\":0,\"split\":\"train\",\"name\":\"loss\",\"value\":2.0,\"wall_time\":1.0}\n{\"step\":2,\"ep\n",
    )
    .unwrap();
    let o = codex(&["runs", "show", "runs/empty"], &[], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("runs/empty: not a run directory (no metrics.ndjson)"),
        "{}",
        stderr(&o)
    );
    // A name is looked up in run.runs_dir; one that names nothing says where
    // it looked.
    let o = codex(&["runs", "show", "nothing"], &[], d);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no run `nothing`: neither a directory nor a run in runs"),
        "{}",
        stderr(&o)
    );
    let o = codex(&["runs", "show", "torn"], &[], d);
    assert!(
        stderr(&o).contains("runs/torn/metrics.ndjson:2:"),
        "{}",
        stderr(&o)
    );
    let o = codex(&["runs", "list", "runs"], &[], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("torn") && stdout(&o).contains("unreadable"),
        "{}",
        stdout(&o)
    );
    let o = codex(&["runs", "sync-mlflow", "runs/torn"], &[], d);
    assert!(!o.status.success());
}

fn audit_fixture(root: &Path) {
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(root.join(".gitignore"), "ignored.txt\n").unwrap();
    std::fs::write(root.join("ignored.txt"), "TODO: not seen\n").unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Demo\n\nA small demo repository.\n\n## Use\n\n```sh\n$ cargo run\n```\n\nSee [docs](docs/missing.md).\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "// entry\nfn main() {\n    todo!()\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("tests/t.py"),
        "def f():\n    pass\n# FIXME later\n",
    )
    .unwrap();
    for i in 0..40 {
        std::fs::write(
            root.join(format!("src/m{i}.rs")),
            format!("/// module {i}\npub fn f{i}() -> u32 {{ {i} }}\n"),
        )
        .unwrap();
    }
}

#[test]
fn audit_max_parse_bytes_zero_is_an_inventory_without_complexity() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    audit_fixture(&repo);
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["audit", "repo", "--no-cache", "--out", out];
        args.extend_from_slice(extra);
        let o = codex(&args, &[], dir.path());
        assert!(o.status.success(), "{}", stderr(&o));
        let a: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(out).join("audit.json")).unwrap(),
        )
        .unwrap();
        a
    };
    let full = run("full", &[]);
    let inventory = run("inv", &["--max-parse-bytes", "0"]);
    assert!(!full["functions"].as_array().unwrap().is_empty());
    assert!(inventory["functions"].as_array().unwrap().is_empty());
    // Everything else the audit finds is the same.
    for key in ["files", "languages", "placeholders", "readme", "repo_map"] {
        assert_eq!(full[key], inventory[key], "{key}");
    }
}

#[test]
fn audit_reports_are_byte_identical_across_runs_and_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    audit_fixture(&repo);
    let run = |out: &str, threads: &str| {
        let o = codex(
            &[
                "audit",
                "repo",
                "--out",
                out,
                "--timestamp",
                "2026-01-01T00:00:00Z",
            ],
            &[("RAYON_NUM_THREADS", threads)],
            dir.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read(dir.path().join(out).join("audit.json")).unwrap()
    };
    let one = run("r1", "1");
    assert_eq!(
        one,
        run("r2", "2"),
        "audit.json differs between 1 and 2 threads"
    );
    let a: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let paths: Vec<&str> = a["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(!paths.contains(&"ignored.txt"), ".gitignore not honoured");
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "paths not sorted");
    assert_eq!(a["readme"]["title"], "Demo");
    assert_eq!(a["readme"]["commands"][0], "cargo run");
    assert_eq!(a["readme"]["missing_links"][0], "docs/missing.md");
    let kinds: Vec<&str> = a["placeholders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["todo!", "bare pass", "FIXME"]);
    assert_eq!(a["repo_map"]["entry_points"][0]["name"], "demo");
    assert_eq!(a["languages"]["Rust"]["files"], 41);
    let o = codex(
        &["audit", "repo", "--out", "r3", "--fail-on", "placeholders"],
        &[],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let py: Vec<&serde_json::Value> = a["functions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] == "tests/t.py")
        .collect();
    assert_eq!(py.len(), 1);
    assert_eq!(
        (py[0]["name"].as_str(), py[0]["complexity"].as_u64()),
        (Some("f"), Some(1))
    );
    let o = codex(
        &["audit", "repo", "--out", "r4", "--fail-on", "complexity>0"],
        &[],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("  tests/t.py:1 f (1)\n"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("the audit failed --fail-on complexity>0"),
        "{}",
        stderr(&o)
    );
    let o = codex(
        &["audit", "repo", "--out", "r5", "--fail-on", "complexity>1"],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = codex(&["audit", "repo-map", "repo"], &[], dir.path());
    assert!(stdout(&o).contains("| src | 41 |"), "{}", stdout(&o));
}

#[cfg(unix)]
#[test]
fn a_hostile_tree_is_audited_without_escaping_or_reading_too_much() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    audit_fixture(&repo);
    std::os::unix::fs::symlink("/", repo.join("root-link")).unwrap();
    std::os::unix::fs::symlink(&repo, repo.join("src/loop")).unwrap();
    let sparse = std::fs::File::create(repo.join("huge.bin")).unwrap();
    sparse.set_len(1 << 30).unwrap();
    std::fs::write(
        repo.join(std::ffi::OsStr::from_bytes(b"bad-\xff-name.txt")),
        b"caf\xe9 TODO \xff\n",
    )
    .unwrap();
    let o = codex(
        &[
            "audit",
            "repo",
            "--out",
            "r",
            "--timestamp",
            "2026-01-01T00:00:00Z",
        ],
        &[],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r/audit.json")).unwrap()).unwrap();
    let files = a["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .all(|f| !f["path"].as_str().unwrap().starts_with("root-link/")
                && !f["path"].as_str().unwrap().starts_with("src/loop/")),
        "a symlink was followed"
    );
    let huge = files.iter().find(|f| f["path"] == "huge.bin").unwrap();
    assert_eq!(huge["size"], 1u64 << 30);
    assert!(huge["sha256"].is_null(), "a 1 GiB file was hashed");
    assert!(
        files
            .iter()
            .any(|f| f["path"].as_str().unwrap().starts_with("bad-"))
    );
}

/// Every command that reads a path the user names exits 2 when it is not
/// there, says which path, and leaves nothing behind.
#[test]
fn a_missing_input_exits_2_everywhere_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("r.txt"), "a\n").unwrap();
    let cases: &[&[&str]] = &[
        &["tokenizer", "train", "nothere.txt", "--out", "tok"],
        &["tokenizer", "inspect", "nothere.json"],
        &[
            "data",
            "prepare",
            "nothere.txt",
            "-t",
            "nothere.json",
            "--out",
            "ds",
        ],
        &["data", "inspect", "nothere"],
        &["data", "verify", "nothere"],
        &["eval", "text", "--hyp", "nothere.txt", "--ref", "r.txt"],
        &["eval", "ppl", "--nll", "nothere.jsonl"],
        &["eval", "lm", "nothere", "--data", "r.txt"],
        &["generate", "nothere", "--prompt", "x"],
        &["model", "import", "nothere", "--out", "m"],
        &["model", "export", "nothere", "--out", "m"],
        &["model", "inspect", "nothere"],
        &["audit", "nothere"],
        &["safety", "scan", "nothere"],
        &["safety", "redact", "nothere.txt"],
        &["runs", "show", "nothere"],
        &["runs", "list", "nothere"],
        &["config", "validate", "nothere.yaml"],
        &["train", "--config", "nothere.yaml"],
        &["train", "--resume", "nothere"],
        &["train", "data.sources=nothere.txt"],
        &[
            "sweep",
            "--config",
            "nothere.yaml",
            "--grid",
            "train.lr=1e-3,2e-3",
        ],
    ];
    for args in cases {
        let o = codex(args, &[], d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("nothere"), "{args:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("(os error 2): No such file"),
            "{args:?} repeats its cause: {}",
            stderr(&o)
        );
        let left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "r.txt")
            .collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}

/// A native model (qwen2-tiny, vocabulary 640) with the chat test tokenizer
/// and a tokenizer_config.json carrying codex's ChatML template.
fn chat_model(dir: &Path) {
    use codex_model::burn::tensor::Device;
    let chat = repo().join("tests/data/chat");
    let mut config = codex_model::architectures()
        .get("qwen2-tiny")
        .unwrap()
        .value
        .clone();
    config.vocab_size = 640;
    let model = codex_model::Transformer::init(&config, 7, &Device::flex()).unwrap();
    codex_model::save_native(&model, &dir.join("model.bpk")).unwrap();
    std::fs::copy(chat.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let template = std::fs::read_to_string(chat.join("templates/codex-chatml.jinja")).unwrap();
    let config = serde_json::json!({"eos_token": "<|im_end|>", "chat_template": template});
    std::fs::write(dir.join("tokenizer_config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("chat.json"),
        r#"[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "2 + 3?"}]"#,
    )
    .unwrap();
}

#[test]
fn chat_render_prints_text_ids_and_the_assistant_mask() {
    let tmp = tempfile::tempdir().unwrap();
    chat_model(tmp.path());
    let args = [
        "chat",
        "render",
        "model.bpk",
        "--messages",
        "chat.json",
        "--add-generation-prompt",
        "--json",
    ];
    let out = codex(&args, &[], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["text"],
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\n2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    );
    let ids = v["ids"].as_array().unwrap();
    let mask = v["assistant_mask"].as_array().unwrap();
    assert_eq!(ids.len(), mask.len());
    assert_eq!(v["generation_blocks"], true);
    // "Hello" and <|im_end|>: at least two tokens, and not the prompt's.
    let masked = mask.iter().filter(|m| m.as_u64() == Some(1)).count();
    assert!(
        masked >= 2 && masked < ids.len() / 2,
        "{masked} of {}",
        ids.len()
    );

    // A reply, once, as JSON; a missing file is exit 2 naming it.
    let out = codex(
        &[
            "chat",
            "model.bpk",
            "--messages",
            "chat.json",
            "--json",
            "--temperature",
            "0",
            "--max-new-tokens",
            "4",
        ],
        &[],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["role"], "assistant");
    assert!(v["new_tokens"].as_u64().unwrap() <= 4, "{v}");
    let out = codex(
        &["chat", "model.bpk", "--messages", "nope.json"],
        &[],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));

    // Interactive: two turns on stdin, a reply line for each.
    let out = codex_stdin(
        &[
            "chat",
            "model.bpk",
            "--temperature",
            "0",
            "--max-new-tokens",
            "3",
        ],
        tmp.path(),
        b"Hi\n/reset\nHi again\n/exit\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("/reset"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}

fn tasks_model() -> std::path::PathBuf {
    repo().join("crates/codex-train/tests/data/tasks/model")
}

#[test]
fn eval_tasks_writes_results_samples_and_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = tasks_model();
    let o = codex(
        &[
            "eval",
            "tasks",
            model.to_str().unwrap(),
            "--tasks",
            "tasks/synth_completion,tasks/chat_qa/chat_qa.yaml",
            "--limit",
            "6",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        repo(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    for needle in [
        "synth_completion_3shot",
        "acc_norm",
        "synth_mc",
        "first-number",
        "requests",
    ] {
        assert!(table.contains(needle), "{needle} missing from:\n{table}");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["n-samples"]["chat_qa"]["effective"], 6);
    assert_eq!(results["n-samples"]["chat_qa"]["original"], 200);
    assert!(results["groups"]["synth_mc"]["acc,none"].is_number());
    let samples = std::fs::read_to_string(out.join("samples_chat_qa.jsonl")).unwrap();
    // Two filters: each document is recorded once per filter.
    assert_eq!(samples.lines().count(), 12);
}

#[track_caller]
fn check_bad_task(files: &[(&str, &str)], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = dir.path().join("out");
    let model = tasks_model();
    let o = codex(
        &[
            "eval",
            "tasks",
            model.to_str().unwrap(),
            "--tasks",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        repo(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for e in expect {
        assert!(err.contains(e), "`{e}` missing from: {err}");
    }
    assert!(!out.exists(), "nothing may be written on bad input");
}

const TASK_HEAD: &str = "task: bad\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: data.jsonl\ntest_split: test\noutput_type: generate_until\ndoc_to_target: a\n";
const TASK_DATA: &str =
    "{\"q\": \"one\", \"a\": \"1\"}\n{\"q\": \"two\", \"a\": \"2\"}\n{\"q\": null, \"a\": \"3\"}\n";

#[test]
fn eval_tasks_refuses_bad_task_files_with_exit_2() {
    // An unknown key, with the nearest known one.
    check_bad_task(
        &[
            ("t.yaml", &format!("{TASK_HEAD}doc_to_txt: q\n")),
            ("data.jsonl", TASK_DATA),
        ],
        &[
            "t.yaml",
            "unknown key `doc_to_txt`",
            "did you mean `doc_to_text`",
        ],
    );
    // A Python hook, by key and line.
    check_bad_task(
        &[
            (
                "t.yaml",
                &format!("{TASK_HEAD}doc_to_text: q\nprocess_docs: !function utils.process\n"),
            ),
            ("data.jsonl", TASK_DATA),
        ],
        &["t.yaml", "line 10", "`process_docs` is a `!function` hook"],
    );
    // A template that fails on one document: task, document and field.
    check_bad_task(
        &[
            (
                "t.yaml",
                &format!("{TASK_HEAD}doc_to_text: \"Q: {{{{ q.upper() }}}}\"\n"),
            ),
            ("data.jsonl", TASK_DATA),
        ],
        &["task `bad`, document 2, `doc_to_text`"],
    );
    // A missing data file.
    check_bad_task(
        &[("t.yaml", &format!("{TASK_HEAD}doc_to_text: q\n"))],
        &["data.jsonl", "does not exist"],
    );
    // A malformed data line.
    check_bad_task(
        &[
            ("t.yaml", &format!("{TASK_HEAD}doc_to_text: q\n")),
            ("data.jsonl", "{\"q\": \"one\", \"a\": \"1\"}\n{\"q\": \n"),
        ],
        &["data.jsonl:2", "not valid JSON"],
    );
}
