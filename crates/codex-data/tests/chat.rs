//! Chat data end to end: records of every shape become one example each with
//! its loss mask; bad records are reported by file and line; the example
//! batches, packed or padded, hold every example once per epoch and resume.

use std::path::{Path, PathBuf};

use codex_core::config::{ConfigLoader, DataSection, LossOn, Overlong};
use codex_core::{Filtered, PassThrough, Seeds, Stage, TextFilter, Verdict};
use codex_data::{
    ChatInputs, DataError, ExampleBatches, ExampleStore, PrepareInputs, RandomState, prepare,
    verify,
};
use codex_tokenize::{AnyTokenizer, ChatTemplate, HfTokenizer, SpecialTokens};

fn chat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat")
}

fn data_section(dir: &Path, overrides: &[&str]) -> DataSection {
    let source = format!("data.sources=[{}]", dir.join("chat.jsonl").display());
    ConfigLoader::new()
        .overrides(
            [
                "data.format=chat",
                "data.validation_fraction=0",
                source.as_str(),
            ]
            .into_iter()
            .chain(overrides.iter().copied()),
        )
        .load()
        .unwrap()
        .config
        .data
}

const RECORDS: &str = r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 3?"}, {"role": "assistant", "content": "5"}]}
{"prompt": "Reverse: a b c", "completion": "c b a"}
{"instruction": "Extract the city.", "input": "Ada lives in Lyon.", "output": "Lyon"}
{"messages": []}
{"messages": [{"content": "no role"}, {"role": "assistant", "content": "x"}]}
{"messages": [{"role": "user", "content": "last turn is the user's"}]}
not json
{"question": "Name a prime.", "answer": "7"}
{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more?"}, {"role": "assistant", "content": "yes, more"}]}
"#;

fn prepare_chat(
    dir: &Path,
    data: &DataSection,
    loss_on: LossOn,
    max_length: usize,
) -> Result<codex_data::Prepared, DataError> {
    prepare_filtered(dir, data, loss_on, max_length, &PassThrough)
}

fn prepare_filtered(
    dir: &Path,
    data: &DataSection,
    loss_on: LossOn,
    max_length: usize,
    filter: &dyn TextFilter,
) -> Result<codex_data::Prepared, DataError> {
    let tok_path = chat_dir().join("tokenizer.json");
    let tok = AnyTokenizer::from_file(&tok_path).unwrap();
    let hf = HfTokenizer::from_file(&tok_path).unwrap();
    let template = ChatTemplate::builtin("chatml").unwrap();
    let (digest, _) = codex_core::hash_file(&tok_path).unwrap();
    prepare(&PrepareInputs {
        data,
        seeds: Seeds::new(7),
        tokenizer: &tok,
        tokenizer_blake3: digest,
        eos_id: 0,
        filter,
        out: &dir.join("prepared"),
        on_documents: &|_| {},
        chat: Some(ChatInputs {
            template: &template,
            tokenizer: &hf,
            special: SpecialTokens::default(),
            loss_on,
            max_length,
            overlong: data.overlong,
        }),
    })
}

#[test]
fn every_record_shape_is_one_example_and_bad_records_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("chat.jsonl"), RECORDS).unwrap();
    let data = data_section(tmp.path(), &[]);
    let prepared = prepare_chat(tmp.path(), &data, LossOn::Assistant, 512).unwrap();
    let lines: Vec<u64> = prepared
        .diagnostics
        .iter()
        .filter_map(|d| d.location.as_ref().and_then(|l| l.line))
        .collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8], "{:?}", prepared.diagnostics);
    let text: Vec<String> = prepared
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(text[0].contains("no messages"), "{text:?}");
    assert!(text[1].contains("role"), "{text:?}");
    assert!(text[2].contains("assistant"), "{text:?}");
    assert!(text[3].contains("JSON"), "{text:?}");
    assert!(text[4].contains("chat_fields"), "{text:?}");

    let dir = tmp.path().join("prepared");
    let manifest = verify(&dir).unwrap();
    let train = manifest.split("train");
    assert_eq!(train.documents, 4);
    assert!(manifest.chat.is_some());
    let store = ExampleStore::open(&dir, &train, true).unwrap();
    assert_eq!(store.len(), 4);
    // What the masks select, decoded: each reply and its <|im_end|>.
    let tok = HfTokenizer::from_file(chat_dir().join("tokenizer.json")).unwrap();
    let mut replies = Vec::new();
    for i in 0..store.len() {
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        store.read(i, &mut ids, &mut mask);
        let kept: Vec<u32> = ids
            .iter()
            .zip(&mask)
            .filter(|(_, m)| **m == 1)
            .map(|(id, _)| *id)
            .collect();
        replies.push(tok.decode(&kept, false).unwrap());
    }
    replies.sort();
    assert_eq!(
        replies,
        [
            "5<|im_end|>",
            "Lyon<|im_end|>",
            "c b a<|im_end|>",
            "hello<|im_end|>yes, more<|im_end|>"
        ]
    );

    // Renamed fields are read (and the Alpaca names are then not: line 3
    // becomes a bad record, line 8 a good one); the cache key changes.
    let renamed = data_section(
        tmp.path(),
        &["data.chat_fields={instruction: question, output: answer}"],
    );
    let again = prepare_chat(tmp.path(), &renamed, LossOn::Assistant, 512).unwrap();
    assert!(!again.cached);
    assert_eq!(again.manifest.split("train").documents, 4);
    let lines: Vec<u64> = again
        .diagnostics
        .iter()
        .filter_map(|d| d.location.as_ref().and_then(|l| l.line))
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7]);
}

#[test]
fn under_fail_the_first_bad_record_stops_preparation_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("chat.jsonl"), RECORDS).unwrap();
    let data = data_section(tmp.path(), &["data.on_error=fail"]);
    let err = prepare_chat(tmp.path(), &data, LossOn::Assistant, 512).unwrap_err();
    assert!(err.is_bad_input());
    let text = err.to_string();
    assert!(text.contains("chat.jsonl") && text.contains('4'), "{text}");
}

#[test]
fn long_examples_are_cut_or_dropped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("chat.jsonl"), RECORDS).unwrap();
    let cut = data_section(tmp.path(), &[]);
    let lengths = |m: &codex_data::Manifest| {
        let store =
            ExampleStore::open(&tmp.path().join("prepared"), &m.split("train"), true).unwrap();
        (0..store.len())
            .map(|i| store.length(i))
            .collect::<Vec<_>>()
    };
    let full = prepare_chat(tmp.path(), &cut, LossOn::All, 512)
        .unwrap()
        .manifest;
    let mut longest = lengths(&full);
    longest.sort_unstable();
    let limit = longest[1] + 1; // two examples fit, two do not
    let m = prepare_chat(tmp.path(), &cut, LossOn::All, limit)
        .unwrap()
        .manifest;
    let stats = m.split("train").chat.unwrap();
    assert_eq!(stats.truncated, 2, "{stats:?}");
    assert!(lengths(&m).iter().all(|&l| l <= limit));

    let drop = data_section(tmp.path(), &["data.overlong=drop"]);
    assert_eq!(drop.overlong, Overlong::Drop);
    let m = prepare_chat(tmp.path(), &drop, LossOn::All, limit)
        .unwrap()
        .manifest;
    let stats = m.split("train").chat.unwrap();
    assert_eq!(stats.truncated, 0);
    assert_eq!(stats.dropped_overlong, 2);
    assert_eq!(m.split("train").documents, 2);
}

/// Examples of a store, as (inputs, targets, mask) per example from batches.
fn drawn(batches: &mut ExampleBatches<'_>, n: usize) -> Vec<(Vec<u32>, Vec<u32>, Vec<u8>)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let b = batches.next_batch();
        assert_eq!(b.inputs.len(), b.batch * b.seq_len);
        assert_eq!(b.loss_mask.len(), b.inputs.len());
        assert_eq!(b.positions.len(), b.inputs.len());
        for r in 0..b.batch {
            let row = r * b.seq_len..(r + 1) * b.seq_len;
            let pos = &b.positions[row.clone()];
            // Split the row where positions restart.
            let mut start = 0;
            let ends = (1..=b.seq_len).filter(|&t| t == b.seq_len || pos[t] == 0);
            for t in ends {
                let span = row.start + start..row.start + t;
                if !b.segment_starts.is_empty() {
                    assert!(
                        b.segment_starts[span.clone()]
                            .iter()
                            .all(|&s| s as usize == start),
                        "segment starts"
                    );
                }
                out.push((
                    b.inputs[span.clone()].to_vec(),
                    b.targets[span.clone()].to_vec(),
                    b.loss_mask[span].to_vec(),
                ));
                start = t;
            }
        }
    }
    out
}

#[test]
fn packed_and_padded_batches_hold_every_example_once_per_epoch_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for i in 0..40 {
        let words = "word ".repeat(i % 7 + 1);
        lines.push_str(&format!(
            "{{\"prompt\": \"say {i}\", \"completion\": \"{words}{i}\"}}\n"
        ));
    }
    std::fs::write(tmp.path().join("chat.jsonl"), lines).unwrap();
    let data = data_section(tmp.path(), &[]);
    let m = prepare_chat(tmp.path(), &data, LossOn::Assistant, 512)
        .unwrap()
        .manifest;
    let dir = tmp.path().join("prepared");
    let store = ExampleStore::open(&dir, &m.split("train"), true).unwrap();
    assert_eq!(store.len(), 40);
    let mut expected: Vec<(Vec<u32>, Vec<u32>, Vec<u8>)> = (0..store.len())
        .map(|i| {
            let (mut ids, mut mask) = (Vec::new(), Vec::new());
            store.read(i, &mut ids, &mut mask);
            let n = ids.len() - 1;
            (
                ids[..n].to_vec(),
                ids[1..].to_vec(),
                mask[1..].iter().map(|&m| m as u8).collect(),
            )
        })
        .collect();
    expected.sort();
    for packing in [true, false] {
        let seed = RandomState {
            seed: 9,
            batches: 0,
        };
        let mut batches = ExampleBatches::resume(&store, 3, 64, packing, seed).unwrap();
        let per_epoch = batches.batches_per_epoch();
        let mut got: Vec<_> = drawn(&mut batches, per_epoch)
            .into_iter()
            .filter(|(_, _, m)| m.contains(&1))
            .collect();
        got.sort();
        assert_eq!(got, expected, "packing {packing}");
        // Resuming at batch 5 gives what the uninterrupted sampler gave.
        let mut a = ExampleBatches::resume(&store, 3, 64, packing, seed).unwrap();
        for _ in 0..5 {
            a.next_batch();
        }
        let state = a.state();
        let mut b = ExampleBatches::resume(&store, 3, 64, packing, state).unwrap();
        for _ in 0..(2 * per_epoch) {
            assert_eq!(a.next_batch(), b.next_batch());
        }
    }
    let mut packed = ExampleBatches::resume(&store, 3, 64, true, RandomState::default()).unwrap();
    let mut padded = ExampleBatches::resume(&store, 3, 64, false, RandomState::default()).unwrap();
    let pad = |s: &mut ExampleBatches<'_>| {
        let n = s.batches_per_epoch();
        let (mut padding, mut total) = (0, 0);
        for _ in 0..n {
            let b = s.next_batch();
            padding += b.padding;
            total += b.inputs.len();
        }
        padding as f64 / total as f64
    };
    let (p, u) = (pad(&mut packed), pad(&mut padded));
    assert!(p < 0.5 && u < 0.5, "padding packed {p}, padded {u}");
}

/// Drops a message holding "forbidden", redacts "Lyon".
struct ChatFilter;

impl TextFilter for ChatFilter {
    fn name(&self) -> &str {
        "chat-filter"
    }

    fn filter(&self, text: &str, _: Stage) -> Filtered {
        if text.contains("forbidden") {
            Filtered::new(Verdict::Drop, Vec::new())
        } else if text.contains("Lyon") {
            Filtered::new(Verdict::Redact(text.replace("Lyon", "[CITY]")), Vec::new())
        } else {
            Filtered::keep()
        }
    }
}

#[test]
fn the_safety_filter_screens_every_message_of_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("chat.jsonl"),
        concat!(
            r#"{"messages": [{"role": "user", "content": "Where is Ada?"}, {"role": "assistant", "content": "Lyon"}]}"#,
            "\n",
            r#"{"messages": [{"role": "user", "content": "a forbidden question"}, {"role": "assistant", "content": "no"}]}"#,
            "\n",
            r#"{"prompt": "hi", "completion": "hello"}"#,
            "\n",
        ),
    )
    .unwrap();
    let data = data_section(tmp.path(), &[]);
    let m = prepare_filtered(tmp.path(), &data, LossOn::Assistant, 512, &ChatFilter)
        .unwrap()
        .manifest;
    assert_eq!(m.split("train").documents, 2);
    assert_eq!((m.filter.dropped, m.filter.redacted), (1, 1));
    let store = ExampleStore::open(&tmp.path().join("prepared"), &m.split("train"), true).unwrap();
    let tok = HfTokenizer::from_file(chat_dir().join("tokenizer.json")).unwrap();
    let texts: Vec<String> = (0..store.len())
        .map(|i| {
            let (mut ids, mut mask) = (Vec::new(), Vec::new());
            store.read(i, &mut ids, &mut mask);
            tok.decode(&ids, false).unwrap()
        })
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("[CITY]") && !t.contains("Lyon")),
        "{texts:?}"
    );
    assert!(texts.iter().all(|t| !t.contains("forbidden")), "{texts:?}");
}
