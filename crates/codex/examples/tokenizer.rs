//! Train a byte-level BPE tokenizer on a synthetic corpus, save it as a
//! Hugging Face `tokenizer.json`, load it back and use it.
//! `cargo run --release --example tokenizer`

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use codex::core::config::{OnError, TokenizerKind};
use codex::tokenize::AnyTokenizer;
use codex::tokenize::train::{TrainConfig, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let corpus = dir.path().join("corpus.txt");
    let mut file = std::fs::File::create(&corpus)?;
    let bytes = codex::data::synth::write_corpus(&mut file, 300_000, 7)?;
    println!("corpus     {bytes} bytes of synthetic English");

    let config = TrainConfig {
        kind: TokenizerKind::Bpe,
        vocab_size: 1000,
        min_frequency: 2,
        special_tokens: vec!["<|endoftext|>".into()],
        seed: 7,
        text_field: "text".into(),
        on_error: OnError::Skip,
        show_progress: false,
        command_line: Vec::new(),
    };
    let trained = train(&config, &[corpus])?;
    let out = dir.path().join("tokenizer");
    trained.write(&out)?;
    println!(
        "trained    {} tokens from {} documents in {:.2}s",
        trained.manifest.vocab_size, trained.manifest.documents, trained.manifest.duration_secs
    );

    let tok = AnyTokenizer::from_file(out.join("tokenizer.json"))?;
    let text = "The river ran past the old mill.";
    let ids = tok.encode(text, false)?;
    println!("encoded    {text:?} -> {ids:?}");
    let back = tok.decode(&ids, false)?;
    println!("decoded    {back:?}");
    assert_eq!(back, text, "byte-level BPE round-trips");
    println!(
        "separator  <|endoftext|> is id {}",
        tok.token_to_id("<|endoftext|>").expect("special token")
    );
    Ok(())
}
