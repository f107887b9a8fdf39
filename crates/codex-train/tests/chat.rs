//! `ChatSession` and `chat_format` on a small random model with the chat
//! test tokenizer (tests/data/chat) and codex's built-in ChatML template.

use std::path::{Path, PathBuf};

use codex_model::burn::tensor::Device;
use codex_model::{GenerateOptions, Transformer, architectures, generate, save_native};
use codex_tokenize::LossOn;
use codex_train::{ChatSession, Sampling, chat_format, end_of_turn_tokens, read_messages};

fn chat_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat")
}

/// A native model with the chat tokenizer and a ChatML template beside it.
fn model_dir(dir: &Path) -> PathBuf {
    let mut config = architectures().get("qwen2-tiny").unwrap().value.clone();
    config.vocab_size = 640;
    let model = Transformer::init(&config, 7, &Device::flex()).unwrap();
    save_native(&model, &dir.join("model.bpk")).unwrap();
    std::fs::copy(
        chat_data().join("tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
    let template =
        std::fs::read_to_string(chat_data().join("templates/codex-chatml.jinja")).unwrap();
    let config = serde_json::json!({"eos_token": "<|im_end|>", "chat_template": template});
    std::fs::write(dir.join("tokenizer_config.json"), config.to_string()).unwrap();
    dir.join("model.bpk")
}

#[test]
fn a_reply_is_the_greedy_continuation_of_the_rendered_conversation() {
    let tmp = tempfile::tempdir().unwrap();
    let path = model_dir(tmp.path());
    let messages = vec![
        serde_json::json!({"role": "system", "content": "Be brief."}),
        serde_json::json!({"role": "user", "content": "What is 2 + 3?"}),
    ];
    let greedy = Sampling {
        temperature: Some(0.0),
        ..Sampling::default()
    };
    let device = Device::flex();
    let mut session = ChatSession::open(&path, None, &greedy, Some(12), &device, None).unwrap();
    let im_end = session
        .format()
        .tokenizer
        .token_to_id("<|im_end|>")
        .unwrap();
    assert!(
        session.stop_tokens().contains(&im_end),
        "{:?}",
        session.stop_tokens()
    );
    let reply = session.reply(&messages).unwrap();

    // The same tokens by hand: render with the generation prompt, generate.
    let format = chat_format(&path, None).unwrap();
    let enc = format.encode(&messages, true, LossOn::All).unwrap();
    assert!(
        enc.text.ends_with("<|im_start|>assistant\n"),
        "{}",
        enc.text
    );
    let model = codex_model::load_native(&path, &device).unwrap();
    let out = generate(
        &model,
        std::slice::from_ref(&enc.ids),
        &GenerateOptions {
            max_new_tokens: 12,
            temperature: 0.0,
            stop_tokens: session.stop_tokens().to_vec(),
            vocab_limit: Some(format.tokenizer.vocab_size()),
            ..GenerateOptions::default()
        },
    )
    .unwrap();
    let text = format.tokenizer.decode(&out[0].tokens, true).unwrap();
    assert_eq!(reply.content, text);
    let stopped = matches!(out[0].stop, codex_model::StopReason::StopToken(_));
    assert_eq!(reply.stop_reason == "end_of_turn", stopped);
}

#[test]
fn the_end_of_turn_token_comes_from_the_template() {
    let tmp = tempfile::tempdir().unwrap();
    let path = model_dir(tmp.path());
    let chatml = chat_format(&path, None).unwrap();
    let id = chatml.tokenizer.token_to_id("<|im_end|>").unwrap();
    assert_eq!(end_of_turn_tokens(&chatml).unwrap(), vec![id]);
    let gemma_file = chat_data().join("templates/gemma2.jinja");
    let gemma = chat_format(&path, Some(gemma_file.to_str().unwrap())).unwrap();
    let id = gemma.tokenizer.token_to_id("<end_of_turn>").unwrap();
    assert_eq!(end_of_turn_tokens(&gemma).unwrap(), vec![id]);
}

#[test]
fn bad_conversations_and_missing_templates_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let path = model_dir(tmp.path());
    let file = tmp.path().join("chat.json");
    for (body, says) in [
        ("[]", "empty"),
        (r#"[{"content": "x"}]"#, "role"),
        (r#"{"turns": []}"#, "messages"),
        ("{", "JSON"),
    ] {
        std::fs::write(&file, body).unwrap();
        let err = read_messages(&file).unwrap_err();
        assert!(err.is_bad_input());
        let text = err.to_string();
        assert!(text.contains("chat.json") && text.contains(says), "{text}");
    }
    std::fs::write(
        tmp.path().join("tokenizer_config.json"),
        r#"{"eos_token": "<|im_end|>"}"#,
    )
    .unwrap();
    let err = chat_format(&path, None).unwrap_err();
    assert!(err.is_bad_input());
    assert!(err.to_string().contains("--chat-template"), "{err}");
    let err = chat_format(&path, Some("chatmk")).unwrap_err();
    assert!(
        err.is_bad_input() && err.to_string().contains("chatml"),
        "{err}"
    );
    assert!(chat_format(&path, Some("chatml")).is_ok());
}
