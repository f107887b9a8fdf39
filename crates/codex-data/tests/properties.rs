//! Properties of the samplers over generated states (a fixed seed: every run
//! draws the same cases): a sampler rebuilt from the state it reports after
//! any number of batches draws exactly what the uninterrupted one draws next,
//! for windows and for chat examples, packed or not; and a document's split
//! does not depend on what else is in the corpus.

use std::path::Path;
use std::sync::OnceLock;

use codex_core::config::{ConfigLoader, LossOn, Overlong};
use codex_core::{PassThrough, Seeds};
use codex_data::{
    ChatInputs, ExampleBatches, ExampleStore, PrepareInputs, RandomState, RandomWindows,
    TokenStore, prepare, split_of,
};
use codex_tokenize::{AnyTokenizer, ChatTemplate, HfTokenizer, SpecialTokens};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 32,
        rng_seed: RngSeed::Fixed(0xDA7A_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A prepared text corpus and a prepared chat set, made once.
struct Fixture {
    windows: TokenStore,
    examples: ExampleStore,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // A fixed directory under cargo's per-target scratch space, cleared
        // first: a `TempDir` in a static is never dropped, so it would leave
        // a directory in /tmp behind on every run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codex-data-properties");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let tok_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat/tokenizer.json");
        let tok = AnyTokenizer::from_file(&tok_path).unwrap();
        let hf = HfTokenizer::from_file(&tok_path).unwrap();
        let (digest, _) = codex_core::hash_file(&tok_path).unwrap();
        let chat = dir.join("chat.jsonl");
        let mut f = std::fs::File::create(&chat).unwrap();
        codex_data::synth::write_chat(&mut f, 300, 4, false).unwrap();
        let text_cfg = ConfigLoader::new()
            .overrides(["data.synthetic_bytes=60000", "data.validation_fraction=0"])
            .load()
            .unwrap()
            .config;
        let source = format!("data.sources=[{}]", chat.display());
        let chat_cfg = ConfigLoader::new()
            .overrides([
                "data.format=chat",
                "data.validation_fraction=0",
                source.as_str(),
            ])
            .load()
            .unwrap()
            .config;
        let template = ChatTemplate::builtin("chatml").unwrap();
        let run = |data, out: &Path, chat: Option<ChatInputs<'_>>| {
            prepare(&PrepareInputs {
                data,
                seeds: Seeds::new(1),
                tokenizer: &tok,
                tokenizer_blake3: digest,
                eos_id: 0,
                filter: &PassThrough,
                out,
                on_documents: &|_| {},
                chat,
            })
            .unwrap()
            .manifest
        };
        let text_dir = dir.join("text");
        let m = run(&text_cfg.data, &text_dir, None);
        let windows = TokenStore::open(&text_dir, &m.split("train").shards, true).unwrap();
        let chat_dir = dir.join("chat");
        let m = run(
            &chat_cfg.data,
            &chat_dir,
            Some(ChatInputs {
                template: &template,
                tokenizer: &hf,
                special: SpecialTokens::default(),
                loss_on: LossOn::Assistant,
                max_length: 65,
                overlong: Overlong::Truncate,
            }),
        );
        let examples = ExampleStore::open(&chat_dir, &m.split("train"), true).unwrap();
        Fixture { windows, examples }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn windows_resume_from_any_state(seed in any::<u64>(), k in 0u64..40, batch in 1usize..5) {
        let f = fixture();
        let state = RandomState { seed, batches: 0 };
        let mut a = RandomWindows::resume(&f.windows, batch, 16, state).unwrap();
        for _ in 0..k {
            a.next_batch();
        }
        let mut b = RandomWindows::resume(&f.windows, batch, 16, a.state()).unwrap();
        for _ in 0..3 {
            prop_assert_eq!(a.next_batch(), b.next_batch());
        }
    }

    #[test]
    fn example_batches_resume_from_any_state(
        seed in any::<u64>(),
        k in 0u64..120,
        batch in 1usize..6,
        packing in any::<bool>(),
    ) {
        let f = fixture();
        let state = RandomState { seed, batches: 0 };
        let mut a = ExampleBatches::resume(&f.examples, batch, 64, packing, state).unwrap();
        for _ in 0..k {
            a.next_batch();
        }
        let mut b = ExampleBatches::resume(&f.examples, batch, 64, packing, a.state()).unwrap();
        for _ in 0..3 {
            prop_assert_eq!(a.next_batch(), b.next_batch());
        }
    }

    #[test]
    fn a_documents_split_ignores_the_rest_of_the_corpus(
        docs in proptest::collection::vec("\\PC{0,40}", 1..20),
        seed in any::<u64>(),
    ) {
        let first: Vec<usize> = docs.iter().map(|d| split_of(d, seed, 0.2, 0.1)).collect();
        let mut reversed = docs.clone();
        reversed.reverse();
        let again: Vec<usize> = reversed.iter().rev().map(|d| split_of(d, seed, 0.2, 0.1)).collect();
        prop_assert_eq!(first, again);
    }
}
