//! Layered configuration: precedence, origins, and the error for every kind of bad input.

use std::path::{Path, PathBuf};

use codex_core::Error;
use codex_core::config::{AppConfig, ConfigIssue, ConfigLoader, ModelFamily, Origin, Problem};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[track_caller]
fn issues(loader: ConfigLoader) -> Vec<ConfigIssue> {
    match loader.load() {
        Err(Error::Config { issues }) => issues,
        other => panic!("expected config issues, got {other:?}"),
    }
}

#[test]
fn embedded_default_is_complete_and_valid() {
    // Section structs have no serde defaults, so this load fails if the embedded
    // file misses any key.
    let loaded = ConfigLoader::new().load().unwrap();
    assert_eq!(loaded.config.model.family, ModelFamily::Llama);
    assert!(
        loaded
            .leaves()
            .iter()
            .all(|(_, _, origin)| *origin == Origin::Embedded)
    );
}

#[test]
fn later_layers_win_and_origins_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "job.yaml",
        "train:\n  lr: 0.1\n  max_steps: 7\nrun:\n  name: job\n",
    );
    let loaded = ConfigLoader::new()
        .file(&file)
        .env(env(&[
            ("CODEX_TRAIN__LR", "0.5"),
            ("CODEX_TRACK__MLFLOW__EXPERIMENT", "exp-from-env"),
            // Not configuration: no `__`, so left for the safety crate.
            ("CODEX_SAFETY_POLICY", "strict.yaml"),
            ("HOME", "/root"),
        ]))
        .overrides([
            "train.max_steps=90",
            "eval.metrics=[bleu, chrf]",
            "tokenizer.path=null",
        ])
        .load()
        .unwrap();
    let c = &loaded.config;
    assert_eq!(c.train.lr, 0.5);
    assert_eq!(c.train.max_steps, 90);
    assert_eq!(c.run.name, "job");
    assert_eq!(c.track.mlflow.experiment, "exp-from-env");
    assert_eq!(c.eval.metrics, ["bleu", "chrf"]);
    assert_eq!(c.tokenizer.path, None);

    assert_eq!(
        loaded.origin("train.lr"),
        Origin::Env("CODEX_TRAIN__LR".into())
    );
    assert_eq!(
        loaded.origin("train.max_steps"),
        Origin::Override("train.max_steps=90".into())
    );
    assert_eq!(loaded.origin("run.name"), Origin::File(file.clone()));
    assert_eq!(loaded.origin("train.beta1"), Origin::Embedded);
    assert_eq!(
        loaded.origin("track.mlflow.experiment"),
        Origin::Env("CODEX_TRACK__MLFLOW__EXPERIMENT".into())
    );
    assert_eq!(
        Origin::Env("CODEX_TRAIN__LR".into()).to_string(),
        "environment variable `CODEX_TRAIN__LR`"
    );
}

#[test]
fn toml_files_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "job.toml",
        "[model]\nfamily = \"gpt2\"\nn_layer = 2\nn_kv_head = 4\n",
    );
    let c = ConfigLoader::new().file(file).load().unwrap().config;
    assert_eq!((c.model.family, c.model.n_layer), (ModelFamily::Gpt2, 2));
}

#[test]
fn unknown_section_names_it_and_suggests_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bad.yaml", "trian: {lr: 1}\n");
    let found = issues(ConfigLoader::new().file(&file));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "trian");
    assert_eq!(
        found[0].problem,
        Problem::UnknownKey {
            suggestion: Some("train".into())
        }
    );
    let msg = Error::Config { issues: found }.to_string();
    assert!(
        msg.contains("unknown key `trian` (did you mean `train`?)"),
        "{msg}"
    );
    assert!(msg.contains("bad.yaml"), "{msg}");
}

#[test]
fn unknown_nested_key_suggests_full_path() {
    let found = issues(ConfigLoader::new().overrides(["train.lrr=0.1"]));
    assert_eq!(found[0].path, "train.lrr");
    assert_eq!(
        found[0].problem,
        Problem::UnknownKey {
            suggestion: Some("train.lr".into())
        }
    );
}

#[test]
fn type_error_names_path_expected_type_and_value() {
    let found = issues(ConfigLoader::new().overrides(["train.lr=abc"]));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, "train.lr");
    let msg = found[0].to_string();
    assert_eq!(
        msg,
        "`train.lr` expects a floating point number, found string \"abc\" \
         [set by command-line override `train.lr=abc`]"
    );
}

#[test]
fn type_errors_from_env_name_the_variable() {
    let found = issues(ConfigLoader::new().env(env(&[("CODEX_MODEL__N_LAYER", "-3")])));
    let msg = found[0].to_string();
    assert!(
        msg.starts_with("`model.n_layer` expects a non-negative integer"),
        "{msg}"
    );
    assert!(msg.contains("CODEX_MODEL__N_LAYER"), "{msg}");
}

#[test]
fn unknown_variant_lists_choices_and_suggests() {
    let found = issues(ConfigLoader::new().overrides(["model.family=gpt3"]));
    assert_eq!(
        found[0].to_string(),
        "`model.family` must be one of gpt2, llama, qwen2, qwen3, mistral, phi3, gemma2, found `gpt3` (did you mean `gpt2`?) \
         [set by command-line override `model.family=gpt3`]"
    );
}

#[test]
fn one_load_names_every_wrong_key_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        "train:\n  lr: abc\n  max_steps: -3\n  warmup_steps: 100000\nmodel:\n  n_layr: 2\n",
    );
    let found = issues(
        ConfigLoader::new()
            .file(&file)
            .overrides(["data.foo=1", "model.family=gpt3"]),
    );
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "data.foo",
            "model.family",
            "model.n_layr",
            "train.lr",
            "train.max_steps",
            "train.warmup_steps",
        ],
        "{found:#?}"
    );
    let last = found.last().unwrap().to_string();
    assert!(last.contains("must not exceed train.max_steps"), "{last}");
    assert!(last.contains("bad.yaml"), "{last}");
    assert!(
        found[0].to_string().contains("`data.foo=1`"),
        "{}",
        found[0]
    );
}

#[test]
fn a_single_value_where_a_list_belongs_is_a_one_item_list() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "one.yaml", "data:\n  sources: docs.jsonl\n");
    let loaded = ConfigLoader::new()
        .file(&file)
        .env(env(&[("CODEX_EVAL__DISTINCT_ORDERS", "3")]))
        .overrides(["tokenizer.inputs=notes.txt"])
        .load()
        .unwrap();
    let c = &loaded.config;
    assert_eq!(c.data.sources, [PathBuf::from("docs.jsonl")]);
    assert_eq!(c.eval.distinct_orders, [3]);
    assert_eq!(c.tokenizer.inputs, [PathBuf::from("notes.txt")]);
    assert_eq!(loaded.origin("data.sources"), Origin::File(file));
    // A mapping is still not a list.
    let found = issues(ConfigLoader::new().overrides(["data.sources={a: 1}"]));
    assert_eq!(found[0].path, "data.sources", "{found:?}");
}

#[test]
fn chat_settings_on_text_data_are_said_to_be_ignored() {
    let loaded = ConfigLoader::new()
        .overrides(["train.packing=true", "train.loss_on=all"])
        .load()
        .unwrap();
    let said = loaded.adjustments().join("\n");
    assert!(
        said.contains("train.packing applies to data.format: chat only"),
        "{said}"
    );
    assert!(said.contains("train.loss_on"), "{said}");
    let chat = ConfigLoader::new()
        .overrides(["train.packing=true", "data.format=chat"])
        .load()
        .unwrap();
    assert!(chat.adjustments().is_empty(), "{:?}", chat.adjustments());
    let plain = ConfigLoader::new().load().unwrap();
    assert!(plain.adjustments().is_empty(), "{:?}", plain.adjustments());
}

#[test]
fn a_default_that_contradicts_a_set_value_is_fitted_and_said() {
    let loaded = ConfigLoader::new()
        .overrides(["train.max_steps=5"])
        .load()
        .unwrap();
    assert_eq!(loaded.config.train.warmup_steps, 0);
    assert_eq!(loaded.adjustments().len(), 1);
    assert!(
        loaded.adjustments()[0]
            .starts_with("train.warmup_steps: the default 50 is more than train.max_steps (5)"),
        "{:?}",
        loaded.adjustments()
    );
    let loaded = ConfigLoader::new()
        .overrides(["train.max_steps=40"])
        .load()
        .unwrap();
    assert_eq!(loaded.config.train.warmup_steps, 4);
    // A warmup the user set is theirs: too long is still an error.
    let found =
        issues(ConfigLoader::new().overrides(["train.max_steps=5", "train.warmup_steps=10"]));
    assert_eq!(found[0].path, "train.warmup_steps", "{found:?}");
    // Nothing to fit, nothing said.
    assert!(ConfigLoader::new().load().unwrap().adjustments().is_empty());
}

#[test]
fn semantic_rules_report_every_failing_key() {
    let found = issues(ConfigLoader::new().overrides([
        "train.lr=0",
        "model.n_head=3",
        "data.validation_fraction=0.6",
        "data.test_fraction=0.5",
        "run.device=gpu",
        "tokenizer.path=vocab.txt",
    ]));
    let rendered: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "`run.device` must be auto, cpu, wgpu, wgpu:N, cuda or cuda:N, got `gpu` \
             [set by command-line override `run.device=gpu`]",
            "`tokenizer.path` must name a tokenizer.json or SentencePiece .model file, \
             got `vocab.txt` [set by command-line override `tokenizer.path=vocab.txt`]",
            "`data.test_fraction` plus data.validation_fraction must be < 1, got 1.1 \
             [set by command-line override `data.test_fraction=0.5`]",
            "`model.d_model` must be divisible by model.n_head (3), got 128 \
             [set by embedded default]",
            "`model.n_head` must be divisible by model.n_kv_head (2), got 3 \
             [set by command-line override `model.n_head=3`]",
            "`train.lr` must be > 0, got 0 [set by command-line override `train.lr=0`]",
            "`train.min_lr` must be in [0, train.lr], got 0.0003 [set by embedded default]",
        ]
    );
}

#[test]
fn eval_settings_are_checked_by_key() {
    let found = issues(ConfigLoader::new().overrides([
        "eval.bleu.tokenize=14a",
        "eval.bleu.smooth=laplace",
        "eval.rouge.types=[rouge1, rougeX]",
        "eval.input.format=xml",
        "eval.chrf.beta=0",
    ]));
    let rendered: Vec<String> = found.iter().map(ToString::to_string).collect();
    for key in [
        "`eval.bleu.tokenize` must be 13a, intl, char or none, got `14a`",
        "`eval.bleu.smooth` must be exp, floor, add-k or none, got `laplace`",
        "`eval.rouge.types` `rougeX` is not a ROUGE type",
        "`eval.input.format` must be auto, lines, jsonl or tsv, got `xml`",
        "`eval.chrf.beta`",
    ] {
        assert!(
            rendered.iter().any(|r| r.starts_with(key)),
            "{key} not in {rendered:#?}"
        );
    }
}

#[test]
fn file_problems_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.yaml", "train:\n  lr: [1, 2\n");
    let err = ConfigLoader::new().file(&broken).load().unwrap_err();
    assert!(matches!(err, Error::ConfigParse { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.yaml"), "{err}");

    let toml = write(dir.path(), "broken.toml", "[train\nlr = 1\n");
    let err = ConfigLoader::new()
        .file(&toml)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot parse TOML file"), "{err}");

    let missing = dir.path().join("missing.yaml");
    let err = ConfigLoader::new()
        .file(&missing)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.yaml"), "{err}");

    let txt = write(dir.path(), "job.txt", "train: {}\n");
    let err = ConfigLoader::new().file(&txt).load().unwrap_err();
    assert!(matches!(err, Error::ConfigFormat { .. }), "{err:?}");

    let list = write(dir.path(), "list.yaml", "- 1\n- 2\n");
    let err = ConfigLoader::new()
        .file(&list)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("top level must be a mapping"), "{err}");

    let bad_utf8 = dir.path().join("latin1.yaml");
    std::fs::write(&bad_utf8, b"run:\n  name: caf\xe9\n").unwrap();
    let err = ConfigLoader::new()
        .file(&bad_utf8)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("latin1.yaml") && err.contains("invalid UTF-8"),
        "{err}"
    );
}

#[test]
fn malformed_overrides_are_rejected() {
    for bad in ["train.lr", "=3", "train..lr=1", ".lr=1"] {
        let err = ConfigLoader::new().overrides([bad]).load().unwrap_err();
        assert!(
            matches!(err, Error::OverrideSyntax { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn empty_file_means_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "empty.yaml", "# nothing\n");
    let c = ConfigLoader::new().file(file).load().unwrap().config;
    assert_eq!(c, ConfigLoader::new().load().unwrap().config);
}

#[test]
fn resolved_yaml_round_trips() {
    let c = ConfigLoader::new()
        .overrides(["run.name=round trip", "train.max_seconds=12.5"])
        .load()
        .unwrap()
        .config;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "resolved.yaml", &c.to_yaml());
    assert_eq!(ConfigLoader::new().file(file).load().unwrap().config, c);
}

#[test]
fn committed_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.schema.json");
    let expected = format!(
        "{}\n",
        serde_json::to_string_pretty(&AppConfig::json_schema()).unwrap()
    );
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/config.schema.json is out of date; regenerate it with \
         `cargo run -p codex-cli -- config schema > docs/config.schema.json`"
    );
}
