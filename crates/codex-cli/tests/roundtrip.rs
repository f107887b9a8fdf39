//! Import → LoRA fine-tune → export → `transformers`, for every rotary family
//! (Llama, Llama 3 rope scaling, Qwen2 with a sliding-window layer, Qwen3,
//! Mistral with a window, Phi-3 with fused projections, Gemma 2 with soft
//! caps): the exported directory generates, greedily,
//! exactly what `codex generate` does and stops at the same end-of-sequence
//! token.
//!
//! Needs Python with `torch` and `transformers`:
//! `CODEX_TEST_TRANSFORMERS=/path/to/venv/bin/python cargo test -p codex-cli --test roundtrip`.
//! Without the variable it says so and passes; `.ci/run` installs the packages
//! of `scripts/goldens/requirements-model.txt` into a venv and sets it.
#![allow(clippy::print_stderr, reason = "a skipped test says why")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn codex(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_codex"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "codex {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Short documents over a fixed set of 93 words: a word-level tokenizer of
/// them and three special tokens fills the fixture's 96-entry vocabulary, and
/// documents of three to five words teach the model where one ends.
fn corpus() -> String {
    let words: Vec<String> = (0..93).map(|i| format!("w{i}")).collect();
    let mut state = 0x9e37_79b9_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut out = String::new();
    for _ in 0..3000 {
        let start = next(93);
        let len = 3 + next(3);
        let doc: Vec<&str> = (0..len)
            .map(|k| words[(start + k * 7) % 93].as_str())
            .collect();
        out.push_str(&doc.join(" "));
        out.push('\n');
    }
    out
}

/// `generation_config.json`'s `eos_token_id`, a list as Llama 3 writes it,
/// stops `codex generate` at any of its ids; a malformed one is an exit-2
/// error naming the file and key. (No Python needed.)
#[test]
fn generation_config_eos_ids_stop_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("corpus.txt"), corpus()).unwrap();
    train_tokenizer(d);
    let base = hf_dir(d, "llama-gqa-tied", "base");
    let generate = || {
        codex(
            d,
            &[
                "generate",
                "base",
                "--prompt",
                "w50",
                "--temperature",
                "0",
                "--max-new-tokens",
                "12",
            ],
        )
    };
    let free = generate();
    let words: Vec<&str> = free.split_whitespace().collect();
    assert!(words.len() > 4, "{free}");
    // Stop at the third generated word: its id, from the tokenizer's vocabulary.
    let tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("tokenizer.json")).unwrap())
            .unwrap();
    let stop = words[3];
    let id = tok["model"]["vocab"][stop].as_u64().unwrap();
    std::fs::write(
        base.join("generation_config.json"),
        format!(r#"{{"eos_token_id": [0, {id}]}}"#),
    )
    .unwrap();
    let stopped = generate();
    let first = words.iter().position(|w| *w == stop).unwrap();
    assert_eq!(
        stopped.split_whitespace().collect::<Vec<_>>(),
        // The stop token ends the text and is not part of it.
        words[..first].to_vec(),
        "{free} / {stopped}"
    );
    std::fs::write(
        base.join("generation_config.json"),
        r#"{"eos_token_id": "two"}"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_codex"))
        .args(["generate", "base", "--prompt", "w50"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("generation_config.json: eos_token_id"),
        "{err}"
    );
}

/// `generation_config.json`'s sampling defaults apply where the command line
/// is silent: `do_sample: false` is greedy, `temperature`, `top_k` and
/// `max_new_tokens` are used as given, and a flag overrides each.
#[test]
fn generation_config_sampling_defaults_apply_unless_a_flag_is_set() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("corpus.txt"), corpus()).unwrap();
    train_tokenizer(d);
    let with = hf_dir(d, "llama-gqa-tied", "with");
    hf_dir(d, "llama-gqa-tied", "plain");
    let run = |dir: &str, flags: &[&str]| {
        let mut args = vec!["generate", dir, "--prompt", "w50", "--seed", "3"];
        args.extend(flags);
        codex(d, &args)
    };
    let sampled = run("plain", &["--max-new-tokens", "12"]);
    let greedy = run("plain", &["--max-new-tokens", "12", "--temperature", "0"]);
    assert_ne!(sampled, greedy, "the seed samples another continuation");
    let config = |json: &str| std::fs::write(with.join("generation_config.json"), json).unwrap();
    config(r#"{"do_sample": false, "eos_token_id": 0}"#);
    assert_eq!(run("with", &["--max-new-tokens", "12"]), greedy);
    assert_eq!(
        run("with", &["--max-new-tokens", "12", "--temperature", "1"]),
        sampled,
        "a flag overrides the file"
    );
    config(r#"{"do_sample": true, "temperature": 0.7, "top_k": 5, "max_new_tokens": 6}"#);
    assert_eq!(
        run("with", &[]),
        run(
            "plain",
            &[
                "--temperature",
                "0.7",
                "--top-k",
                "5",
                "--max-new-tokens",
                "6"
            ]
        )
    );
    config(r#"{"temperature": "hot"}"#);
    let o = Command::new(env!("CARGO_BIN_EXE_codex"))
        .args(["generate", "with", "--prompt", "w50"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("generation_config.json: temperature"), "{err}");
}

/// A config.json codex cannot compute, or weights that do not fit it: each
/// an exit-2 error naming the key or tensor, and nothing exported.
#[test]
fn bad_model_inputs_exit_2_naming_the_key_or_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/model/llama3-scaled");
    let config = std::fs::read_to_string(fixture.join("config.json")).unwrap();
    for (from, to, named) in [
        (
            "\"rope_type\": \"llama3\"",
            "\"rope_type\": \"yarn\"",
            "`rope_parameters.rope_type` `yarn`",
        ),
        (
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 3",
            "missing tensor `model.layers.2.",
        ),
        (
            "\"intermediate_size\": 64",
            "\"intermediate_size\": 65",
            "model.layers.0.mlp.gate_proj.weight",
        ),
        (
            "\"model_type\": \"llama\"",
            "\"model_type\": \"mamba\"",
            "mamba",
        ),
    ] {
        let bad = d.join("bad");
        let _ = std::fs::remove_dir_all(&bad);
        std::fs::create_dir(&bad).unwrap();
        std::fs::copy(
            fixture.join("model.safetensors"),
            bad.join("model.safetensors"),
        )
        .unwrap();
        assert!(config.contains(from), "{from}");
        std::fs::write(bad.join("config.json"), config.replace(from, to)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_codex"))
            .args(["model", "export", "bad", "--out", "out"])
            .current_dir(d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{to}: {err}");
        assert!(err.contains(named), "{to}: {err}");
        assert!(!d.join("out/model.safetensors").exists(), "{to}");
    }
}

fn train_tokenizer(d: &Path) {
    codex(
        d,
        &[
            "tokenizer",
            "train",
            "corpus.txt",
            "--out",
            "tok",
            "tokenizer.kind=wordlevel",
            "tokenizer.vocab_size=96",
            "tokenizer.min_frequency=1",
            "tokenizer.special_tokens=[\"</s>\", \"<pad>\", \"[UNK]\"]",
        ],
    );
}

/// A Hugging Face directory `name` in `d` with the fixture model `fixture`
/// and the tokenizer [`train_tokenizer`] made, `</s>` its end of sequence.
fn hf_dir(d: &Path, fixture: &str, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/model")
        .join(fixture);
    let base = d.join(name);
    std::fs::create_dir(&base).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(from.join(f), base.join(f)).unwrap();
    }
    std::fs::copy(d.join("tok/tokenizer.json"), base.join("tokenizer.json")).unwrap();
    std::fs::write(
        base.join("tokenizer_config.json"),
        r#"{"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "[UNK]"}"#,
    )
    .unwrap();
    base
}

#[test]
fn an_exported_fine_tune_generates_in_transformers_as_in_codex() {
    round_trip("llama-gqa-tied");
}

#[test]
fn an_exported_llama3_scaled_fine_tune_generates_in_transformers_as_in_codex() {
    round_trip("llama3-scaled");
}

#[test]
fn an_exported_qwen2_fine_tune_with_a_window_layer_generates_in_transformers_as_in_codex() {
    round_trip("qwen2-window");
}

#[test]
fn an_exported_qwen3_fine_tune_generates_in_transformers_as_in_codex() {
    round_trip("qwen3");
}

#[test]
fn an_exported_mistral_fine_tune_with_a_window_generates_in_transformers_as_in_codex() {
    round_trip("mistral-window");
}

#[test]
fn an_exported_phi3_fine_tune_generates_in_transformers_as_in_codex() {
    round_trip("phi3-partial-window");
}

/// With Gemma 2's own soft caps (50 on the scores, 30 on the logits; the
/// fixture's 1 and 3 are there to bind in the conformance test). In 150
/// LoRA steps this fine-tune learns the word sequences (validation token
/// accuracy about 58%, above Llama's 42%) but not to end a document, so the
/// continuations compared are the full 24 tokens, with no stop to check.
#[test]
fn an_exported_gemma2_fine_tune_generates_in_transformers_as_in_codex() {
    round_trip_with(
        "gemma2-softcap-window",
        &[
            (
                "\"attn_logit_softcapping\": 1.0",
                "\"attn_logit_softcapping\": 50.0",
            ),
            (
                "\"final_logit_softcapping\": 3.0",
                "\"final_logit_softcapping\": 30.0",
            ),
        ],
        false,
    );
}

/// Fine-tune the fixture model `name` with LoRA on the word corpus, export
/// the merged model, and generate from it in codex and in transformers.
fn round_trip(name: &str) {
    round_trip_with(name, &[], true);
}

/// [`round_trip`] from the fixture with `edits` (from, to) made to its
/// config.json; `expect_eos`: at least one prompt must stop at the
/// end-of-sequence token.
fn round_trip_with(name: &str, edits: &[(&str, &str)], expect_eos: bool) {
    let Some(python) = std::env::var_os("CODEX_TEST_TRANSFORMERS").map(PathBuf::from) else {
        eprintln!(
            "skipped: set CODEX_TEST_TRANSFORMERS to a Python with torch and transformers to run the export round trip"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("corpus.txt"), corpus()).unwrap();
    train_tokenizer(d);
    let base = hf_dir(d, name, "base");
    let mut config = std::fs::read_to_string(base.join("config.json")).unwrap();
    for (from, to) in edits {
        assert!(config.contains(from), "{name}: no `{from}` in config.json");
        config = config.replace(from, to);
    }
    std::fs::write(base.join("config.json"), config).unwrap();
    codex(
        d,
        &[
            "train",
            "run.name=sft",
            "train.init_from=base",
            "data.sources=[corpus.txt]",
            "data.format=lines",
            "data.dedup=false",
            "train.lora={rank: 8, alpha: 16, dropout: 0.0, targets: [q, v, mlp]}",
            "train.batch_size=16",
            "train.max_steps=150",
            "train.warmup_steps=10",
            "train.lr=3e-2",
            "train.min_lr=3e-3",
            "train.eval_every=50",
            "train.eval_batches=2",
            "train.checkpoint_every=150",
        ],
    );
    let run = std::fs::read_dir(d.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-sft"))
        .unwrap();
    codex(
        d,
        &["model", "export", run.to_str().unwrap(), "--out", "export"],
    );

    let prompts = ["w3 w10", "w50", "w7 w14 w21", "w90 w4"];
    let max_new = "24";
    let ours: Vec<String> = prompts
        .iter()
        .map(|p| {
            codex(
                d,
                &[
                    "generate",
                    "export",
                    "--prompt",
                    p,
                    "--temperature",
                    "0",
                    "--max-new-tokens",
                    max_new,
                ],
            )
            .trim_end_matches('\n')
            .to_owned()
        })
        .collect();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check/export_roundtrip.py");
    let o = Command::new(&python)
        .arg(&script)
        .arg(d.join("export"))
        .arg(max_new)
        .args(prompts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut stopped = 0;
    for (prompt, ours) in prompts.iter().zip(&ours) {
        let t = &theirs["results"][prompt];
        assert_eq!(
            t["text"].as_str().unwrap(),
            ours,
            "{name}, prompt {prompt:?}: {theirs}"
        );
        if t["stopped_at_eos"] == true {
            stopped += 1;
            assert!(t["new_tokens"].as_u64().unwrap() < 24);
        }
    }
    assert!(
        stopped > 0 || !expect_eos,
        "{name}: no prompt reached the end-of-sequence token: {theirs}"
    );
    eprintln!(
        "round trip {name}: {stopped} of {} prompts stopped at EOS in both: {theirs}",
        prompts.len()
    );
}

/// A chat fine-tune exported with its tokenizer files and chat template:
/// `transformers` renders the conversation to the ids `codex chat render`
/// gives and, greedy, replies with the text `codex chat` gives.
#[test]
fn an_exported_chat_fine_tune_replies_in_transformers_as_in_codex_chat() {
    let Some(python) = std::env::var_os("CODEX_TEST_TRANSFORMERS").map(PathBuf::from) else {
        eprintln!(
            "skipped: set CODEX_TEST_TRANSFORMERS to a Python with torch and transformers to run the chat export round trip"
        );
        return;
    };
    use codex_model::burn::tensor::Device;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let chat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat");
    // A base: qwen2-tiny with the chat test tokenizer (ChatML's tokens are
    // special there), no chat template of its own.
    std::fs::create_dir(d.join("base")).unwrap();
    let mut config = codex_model::architectures()
        .get("qwen2-tiny")
        .unwrap()
        .value
        .clone();
    config.vocab_size = 640;
    let model = codex_model::Transformer::init(&config, 11, &Device::flex()).unwrap();
    codex_model::save_native(&model, &d.join("base/model.bpk")).unwrap();
    std::fs::copy(chat.join("tokenizer.json"), d.join("base/tokenizer.json")).unwrap();
    std::fs::write(
        d.join("base/tokenizer_config.json"),
        r#"{"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}"#,
    )
    .unwrap();
    codex(
        d,
        &[
            "data",
            "synth",
            "--kind",
            "chat",
            "--examples",
            "400",
            "--out",
            "chat.jsonl",
        ],
    );
    codex(
        d,
        &[
            "train",
            "run.name=sft",
            "train.init_from=base",
            "data.format=chat",
            "data.sources=[chat.jsonl]",
            "data.chat_template=chatml",
            "train.packing=true",
            "train.batch_size=8",
            "train.max_steps=40",
            "train.warmup_steps=4",
            "train.lr=3e-3",
            "train.eval_every=20",
            "train.eval_batches=2",
            "train.checkpoint_every=40",
        ],
    );
    let run = std::fs::read_dir(d.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-sft"))
        .unwrap();
    codex(
        d,
        &["model", "export", run.to_str().unwrap(), "--out", "export"],
    );
    assert!(d.join("export/chat_template.jinja").is_file());
    for (i, question) in [
        "How many words are in: red cat tree?",
        "Reverse the words: moon fish rain",
        "Ada is 31 years old and lives in Lyon. Where does Ada live?",
    ]
    .iter()
    .enumerate()
    {
        let file = format!("q{i}.json");
        let messages = serde_json::json!([{"role": "user", "content": question}]);
        std::fs::write(d.join(&file), messages.to_string()).unwrap();
        let rendered: serde_json::Value = serde_json::from_str(&codex(
            d,
            &[
                "chat",
                "render",
                "export",
                "--messages",
                &file,
                "--add-generation-prompt",
                "--json",
            ],
        ))
        .unwrap();
        let reply: serde_json::Value = serde_json::from_str(&codex(
            d,
            &[
                "chat",
                "export",
                "--messages",
                &file,
                "--json",
                "--temperature",
                "0",
                "--max-new-tokens",
                "12",
            ],
        ))
        .unwrap();
        let tok = codex_tokenize::HfTokenizer::from_file(d.join("export/tokenizer.json")).unwrap();
        let stops: Vec<String> = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .map(|t| tok.token_to_id(t).unwrap().to_string())
            .collect();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check/chat_roundtrip.py");
        let o = Command::new(&python)
            .arg(&script)
            .arg(d.join("export"))
            .arg(d.join(&file))
            .arg("12")
            .args(&stops)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let theirs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(theirs["has_template"], true, "{theirs}");
        assert_eq!(
            theirs["prompt_ids"], rendered["ids"],
            "{question}: prompt ids"
        );
        assert_eq!(
            theirs["reply"], reply["content"],
            "{question}: {theirs} vs {reply}"
        );
        eprintln!("chat round trip: {question:?} -> {:?}", reply["content"]);
    }
}
