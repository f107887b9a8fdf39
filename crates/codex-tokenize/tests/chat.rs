//! Chat templates against `transformers`' `apply_chat_template`
//! (tests/data/chat/golden.json, made by scripts/goldens/chat_goldens.py).

use std::path::{Path, PathBuf};

use codex_tokenize::{ChatTemplate, HfTokenizer, LossOn, RenderOptions, SpecialTokens};
use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat")
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data().join("golden.json")).unwrap()).unwrap()
}

fn tokenizer() -> HfTokenizer {
    HfTokenizer::from_file(data().join("tokenizer.json")).unwrap()
}

fn template(name: &str) -> ChatTemplate {
    let path = data().join("templates").join(format!("{name}.jinja"));
    ChatTemplate::new(&std::fs::read_to_string(&path).unwrap(), name).unwrap()
}

fn options(golden: &Value, name: &str, add_generation_prompt: bool) -> RenderOptions {
    let roles = &golden["roles"][name];
    let role = |k: &str| roles.get(k).and_then(Value::as_str).map(str::to_owned);
    RenderOptions {
        add_generation_prompt,
        special: SpecialTokens {
            bos: role("bos_token"),
            eos: role("eos_token"),
            pad: role("pad_token"),
            unk: role("unk_token"),
        },
        extra: golden["extra"].as_object().cloned().unwrap_or_default(),
    }
}

fn messages(golden: &Value, conversation: &str) -> Vec<Value> {
    golden["conversations"][conversation]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_template_renders_and_tokenizes_as_transformers_does() {
    let golden = golden();
    let tok = tokenizer();
    let mut checked = 0;
    let mut families = std::collections::BTreeSet::new();
    for case in golden["cases"].as_array().unwrap() {
        let name = case["template"].as_str().unwrap();
        let conversation = case["conversation"].as_str().unwrap();
        let add = case["add_generation_prompt"].as_bool().unwrap();
        let what = format!("{name} / {conversation} / add_generation_prompt {add}");
        let t = template(name);
        let opts = options(&golden, name, add);
        let msgs = messages(&golden, conversation);
        if let Some(error) = case.get("error").and_then(Value::as_str) {
            let err = t.render(&msgs, &opts).unwrap_err().to_string();
            assert!(err.contains(error), "{what}: {err} lacks {error}");
            continue;
        }
        let enc = t.encode(&tok, &msgs, &opts, LossOn::Assistant).unwrap();
        assert_eq!(enc.text, case["text"].as_str().unwrap(), "{what}: text");
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(enc.ids, ids, "{what}: ids");
        if let Some(mask) = case.get("assistant_mask") {
            let mask: Vec<u8> = mask
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            assert!(t.has_generation_blocks());
            assert_eq!(enc.mask, mask, "{what}: return_assistant_tokens_mask");
        }
        families.insert(name.to_owned());
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} cases");
    assert!(families.len() >= 8, "{families:?}");
}

/// The masked tokens of `conversation`, decoded run by run.
fn masked_runs(name: &str, conversation: &str, loss_on: LossOn) -> Vec<String> {
    let golden = golden();
    let tok = tokenizer();
    let t = template(name);
    let enc = t
        .encode(
            &tok,
            &messages(&golden, conversation),
            &options(&golden, name, false),
            loss_on,
        )
        .unwrap();
    let mut runs = Vec::new();
    let mut run: Vec<u32> = Vec::new();
    for (id, m) in enc.ids.iter().zip(&enc.mask) {
        if *m == 1 {
            run.push(*id);
        } else if !run.is_empty() {
            runs.push(tok.decode(&std::mem::take(&mut run), false).unwrap());
        }
    }
    if !run.is_empty() {
        runs.push(tok.decode(&run, false).unwrap());
    }
    runs
}

#[test]
fn without_generation_blocks_the_mask_is_each_reply_and_its_end_of_turn_tokens() {
    // The content as the template renders it (trimmed where the template
    // trims) and the special tokens right after it; nothing else.
    assert_eq!(
        masked_runs("qwen2.5", "multi", LossOn::Assistant),
        [
            "Seven is prime.<|im_end|>",
            " Two — the only even prime. <|im_end|>",
            "You're welcome.<|im_end|>"
        ]
    );
    assert_eq!(
        masked_runs("llama3.2", "system", LossOn::Assistant),
        ["blue green red<|eot_id|>"]
    );
    assert_eq!(
        masked_runs("gemma2", "open", LossOn::Assistant),
        ["Lyon<end_of_turn>"]
    );
    assert_eq!(
        masked_runs("mistral-nemo", "multi", LossOn::Assistant),
        [
            "Seven is prime.</s>",
            " Two — the only even prime. </s>",
            "You're welcome.</s>"
        ]
    );
    assert_eq!(
        masked_runs("phi3.5", "single", LossOn::Assistant),
        ["5<|end|>"]
    );
    assert_eq!(
        masked_runs("qwen3", "single", LossOn::Completion),
        ["5<|im_end|>"]
    );
    assert_eq!(
        masked_runs("qwen2.5", "multi", LossOn::Completion),
        ["You're welcome.<|im_end|>"]
    );
    let all = masked_runs("phi3.5", "single", LossOn::All);
    assert_eq!(all.len(), 1);
    assert!(all[0].starts_with("<|user|>"), "{all:?}");
}

#[test]
fn generation_blocks_give_the_completion_mask_too() {
    assert_eq!(
        masked_runs("codex-chatml", "multi", LossOn::Completion),
        ["You're welcome.<|im_end|>"]
    );
}

#[test]
fn the_builtin_chatml_is_the_committed_template() {
    let builtin = ChatTemplate::builtin("chatml").unwrap();
    let file = std::fs::read_to_string(data().join("templates/codex-chatml.jinja")).unwrap();
    assert_eq!(builtin.source(), file);
    assert!(builtin.has_generation_blocks());
}

#[test]
fn a_tokenizer_directory_gives_its_template_file_first() {
    let dir = tempfile::tempdir().unwrap();
    assert!(ChatTemplate::from_dir(dir.path()).unwrap().is_none());
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ messages | length }}"}]}"#,
    )
    .unwrap();
    let t = ChatTemplate::from_dir(dir.path()).unwrap().unwrap();
    let one = [serde_json::json!({"role": "user", "content": "x"})];
    assert_eq!(
        t.render(&one, &RenderOptions::default()).unwrap().text,
        "D1"
    );
    std::fs::write(dir.path().join("chat_template.jinja"), "F").unwrap();
    let t = ChatTemplate::from_dir(dir.path()).unwrap().unwrap();
    assert_eq!(t.render(&one, &RenderOptions::default()).unwrap().text, "F");
    std::fs::write(dir.path().join("chat_template.jinja"), "{% if %}").unwrap();
    let err = ChatTemplate::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("chat_template.jinja"), "{err}");
}

#[test]
fn an_unlocatable_reply_is_an_error_that_says_what_to_do() {
    // This template drops the assistant's words: nothing to mask, said so.
    let t = ChatTemplate::new(
        "{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %}[reply]{% endif %}{% endfor %}",
        "odd.jinja",
    )
    .unwrap();
    let msgs = [
        serde_json::json!({"role": "user", "content": "hi"}),
        serde_json::json!({"role": "assistant", "content": "hello"}),
    ];
    let err = t
        .encode(
            &tokenizer(),
            &msgs,
            &RenderOptions::default(),
            LossOn::Assistant,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("odd.jinja") && err.contains("assistant message 1") && err.contains("loss_on"),
        "{err}"
    );
}
