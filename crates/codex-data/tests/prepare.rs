//! Preparation end to end: determinism, caching, formats, filtering, bad input,
//! verification and resumable samplers.

use std::io::Write;
use std::path::{Path, PathBuf};

use codex_core::config::{ConfigLoader, DataFormat, DataSection, OnError};
use codex_core::{
    Digest, Filtered, Finding, PassThrough, Seeds, Severity, Stage, TextFilter, Verdict,
};
use codex_data::{
    DataError, Manifest, PrepareInputs, RandomWindows, Sequential, TokenStore, prepare, verify,
};
use codex_tokenize::AnyTokenizer;

fn tokenizer() -> (AnyTokenizer, Digest) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../codex-tokenize/tests/data/hf-bpe.json");
    let (digest, _) = codex_core::hash_file(&path).unwrap();
    (AnyTokenizer::from_file(&path).unwrap(), digest)
}

fn data_section(overrides: &[&str]) -> DataSection {
    ConfigLoader::new()
        .overrides(overrides.iter().copied())
        .load()
        .unwrap()
        .config
        .data
}

fn run(
    data: &DataSection,
    out: &Path,
    filter: &dyn TextFilter,
) -> Result<codex_data::Prepared, DataError> {
    let (tok, digest) = tokenizer();
    prepare(&PrepareInputs {
        data,
        seeds: Seeds::new(1337),
        tokenizer: &tok,
        tokenizer_blake3: digest,
        eos_id: 0,
        filter,
        out,
        on_documents: &|_| {},
        chat: None,
    })
}

fn shard_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn splits_and_shards_are_identical_across_runs_and_thread_counts() {
    let data = data_section(&[
        "data.synthetic_bytes=1500000",
        "data.shard_tokens=60000",
        "data.test_fraction=0.05",
    ]);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let pa = one_thread
        .install(|| run(&data, a.path(), &PassThrough))
        .unwrap();
    let pb = run(&data, b.path(), &PassThrough).unwrap();
    assert_eq!(shard_bytes(a.path()), shard_bytes(b.path()));
    assert_eq!(pa.manifest.splits, pb.manifest.splits);
    assert_eq!(pa.manifest.cache_key, pb.manifest.cache_key);
    let splits = &pa.manifest.splits;
    assert!(splits["train"].shards.len() > 1, "several shards expected");
    let total: u64 = splits.values().map(|s| s.documents).sum();
    let val = splits["validation"].documents as f64 / total as f64;
    assert!((0.03..0.07).contains(&val), "validation fraction {val}");
    assert!(splits["test"].documents > 0);
    verify(a.path()).unwrap();
}

#[test]
fn unchanged_inputs_are_a_cached_no_op_and_changes_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("corpus.txt");
    std::fs::write(
        &src,
        "one two three\nfour five six\nseven eight nine\n".repeat(50),
    )
    .unwrap();
    let data = data_section(&[
        &format!("data.sources=[{}]", src.display()),
        "data.dedup=false",
    ]);
    let out = dir.path().join("data");
    let first = run(&data, &out, &PassThrough).unwrap();
    assert!(!first.cached);
    let second = run(&data, &out, &PassThrough).unwrap();
    assert!(second.cached);
    assert_eq!(second.manifest, first.manifest);
    std::fs::write(&src, "a changed corpus line\n".repeat(40)).unwrap();
    let third = run(&data, &out, &PassThrough).unwrap();
    assert!(!third.cached);
    assert_ne!(third.manifest.cache_key, first.manifest.cache_key);
    assert_eq!(third.manifest.sources[0].records, 40);
}

#[test]
fn jsonl_chat_csv_blocks_gzip_and_zstd_sources() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("a.jsonl"),
        "{\"title\": \"T1\", \"body\": \"first body\"}\n{\"title\": \"T2\", \"body\": \"second body\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("chat.jsonl"),
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("t.csv"),
        "id,title,body\n1,CSV title,\"csv, body\"\n",
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"gzip line one\ngzip line two\n").unwrap();
    std::fs::write(d.join("g.txt.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        d.join("z.txt.zst"),
        zstd::encode_all(&b"zstd line\n"[..], 3).unwrap(),
    )
    .unwrap();

    // JSONL and CSV with two fields joined.
    let options = codex_data::source::SourceOptions {
        format: DataFormat::Auto,
        separator: "\n\n".into(),
        text_fields: vec!["title".into(), "body".into()],
        on_error: OnError::Skip,
        chat_fields: Default::default(),
    };
    let files = codex_data::source::expand(&[
        d.join("a.jsonl"),
        d.join("t.csv"),
        d.join("*.gz"),
        d.join("z.txt.zst"),
    ])
    .unwrap();
    let mut docs = codex_data::source::Documents::new(files, options.clone());
    let mut texts = Vec::new();
    while let Some(doc) = docs.next_document().unwrap() {
        texts.push(doc.text);
    }
    assert_eq!(
        texts,
        [
            "T1\nfirst body",
            "T2\nsecond body",
            "gzip line one",
            "gzip line two",
            "CSV title\ncsv, body",
            "zstd line"
        ]
    );

    let chat = codex_data::source::SourceOptions {
        text_fields: vec!["messages".into()],
        ..options.clone()
    };
    let mut docs = codex_data::source::Documents::new(vec![d.join("chat.jsonl")], chat);
    assert_eq!(
        docs.next_document().unwrap().unwrap().text,
        "user: hi\nassistant: hello"
    );

    std::fs::write(
        d.join("blocks.txt"),
        "doc one\nstill one\n\ndoc two\n\n\n\ndoc three",
    )
    .unwrap();
    let blocks = codex_data::source::SourceOptions {
        format: DataFormat::Blocks,
        ..options
    };
    let mut docs = codex_data::source::Documents::new(vec![d.join("blocks.txt")], blocks);
    let mut got = Vec::new();
    while let Some(doc) = docs.next_document().unwrap() {
        got.push((doc.line, doc.text));
    }
    assert_eq!(
        got,
        [
            (1, "doc one\nstill one".to_owned()),
            (4, "doc two".to_owned()),
            (8, "doc three".to_owned())
        ]
    );
}

fn bad_jsonl(dir: &Path) -> PathBuf {
    let p = dir.join("bad.jsonl");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(b"{\"text\": \"good one\"}\n{broken\n{\"other\": 1}\n{\"text\": \"caf\xe9\"}\n{\"text\": \"good two\"}\n").unwrap();
    p
}

#[test]
fn malformed_records_are_reported_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = bad_jsonl(dir.path());
    let data = data_section(&[
        &format!("data.sources=[{}]", src.display()),
        "data.validation_fraction=0",
    ]);
    let prepared = run(&data, &dir.path().join("out"), &PassThrough).unwrap();
    let found: Vec<(String, u64)> = prepared
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), d.location.as_ref().unwrap().line.unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("data.malformed-json".to_owned(), 2),
            ("data.missing-field".to_owned(), 3),
            ("data.invalid-utf8".to_owned(), 4)
        ]
    );
    assert_eq!(prepared.manifest.records_skipped, 3);
    assert_eq!(prepared.manifest.splits["train"].documents, 2);

    let strict = data_section(&[
        &format!("data.sources=[{}]", src.display()),
        "data.on_error=fail",
    ]);
    let err = run(&strict, &dir.path().join("strict"), &PassThrough).unwrap_err();
    assert!(
        matches!(err, DataError::BadRecord { line: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("bad.jsonl` line 2: not JSON"),
        "{err}"
    );
    assert!(
        !dir.path().join("strict/manifest.json").exists(),
        "no manifest for a failed run"
    );
}

#[test]
fn empty_corpus_and_missing_sources_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n  \n").unwrap();
    let data = data_section(&[&format!("data.sources=[{}]", empty.display())]);
    let err = run(&data, &dir.path().join("o"), &PassThrough).unwrap_err();
    assert!(err.to_string().starts_with("the corpus is empty"), "{err}");
    let data = data_section(&[&format!(
        "data.sources=[{}]",
        dir.path().join("nope.txt").display()
    )]);
    let err = run(&data, &dir.path().join("o"), &PassThrough).unwrap_err();
    assert!(err.to_string().contains("nope.txt"), "{err}");
    let data = data_section(&[&format!(
        "data.sources=[{}]",
        dir.path().join("*.none").display()
    )]);
    let err = run(&data, &dir.path().join("o"), &PassThrough).unwrap_err();
    assert!(err.to_string().contains("matches no file"), "{err}");
}

/// Drops documents containing "drop", redacts "secret", flags "flag".
struct TestFilter;

impl TextFilter for TestFilter {
    fn name(&self) -> &str {
        "test-filter"
    }

    fn filter(&self, text: &str, stage: Stage) -> Filtered {
        assert_eq!(stage, Stage::Data);
        let finding = |rule: &str, word: &str| Finding {
            rule_id: rule.into(),
            kind: rule.into(),
            span: text.find(word).map_or(0..0, |i| i..i + word.len()),
            severity: Severity::Warning,
            match_hash: Digest::of(word.as_bytes()).to_hex(),
        };
        if text.contains("drop") {
            Filtered::new(Verdict::Drop, vec![finding("no-drop", "drop")])
        } else if text.contains("secret") {
            Filtered::new(
                Verdict::Redact(text.replace("secret", "«REDACTED:TEST»")),
                vec![finding("secrets", "secret")],
            )
        } else if text.contains("flag") {
            Filtered::new(Verdict::Keep, vec![finding("flags", "flag")])
        } else {
            Filtered::keep()
        }
    }
}

#[test]
fn the_filter_drops_redacts_and_flags_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("c.txt");
    std::fs::write(
        &src,
        "keep this\nplease drop this\na secret here\nflag me\nkeep this\n",
    )
    .unwrap();
    let data = data_section(&[
        &format!("data.sources=[{}]", src.display()),
        "data.validation_fraction=0",
    ]);
    let p = run(&data, &dir.path().join("o"), &TestFilter).unwrap();
    let f = &p.manifest.filter;
    assert_eq!(
        (f.name.as_str(), f.dropped, f.redacted, f.flagged),
        ("test-filter", 1, 1, 1)
    );
    assert_eq!(f.rules["no-drop"].dropped, 1);
    assert_eq!(f.rules["secrets"].redacted, 1);
    assert_eq!(f.rules["flags"].flagged, 1);
    assert_eq!(p.manifest.duplicates_removed, 1);
    assert_eq!(p.manifest.splits["train"].documents, 3);
    // The redacted text, not the secret, is what got tokenized.
    let (tok, _) = tokenizer();
    let m = Manifest::load(&dir.path().join("o")).unwrap();
    let store = TokenStore::open(&dir.path().join("o"), &m.split("train").shards, true).unwrap();
    let mut ids = Vec::new();
    store.read(0, 0, store.total_tokens() as usize, &mut ids);
    let text = tok.decode(&ids, false).unwrap();
    assert!(
        text.contains("«REDACTED:TEST»") && !text.contains("secret"),
        "{text}"
    );
}

#[test]
fn altered_or_truncated_shards_fail_verification_naming_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_section(&["data.synthetic_bytes=300000"]);
    run(&data, dir.path(), &PassThrough).unwrap();
    let shard = dir.path().join("train-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();
    let err = verify(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "shard `{}` is corrupt: BLAKE3 is",
            shard.display()
        )),
        "{err}"
    );
    bytes.truncate(bytes.len() - 2);
    std::fs::write(&shard, &bytes).unwrap();
    let err = verify(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("train-00000.bin") && err.contains("the manifest expects"),
        "{err}"
    );
    std::fs::write(dir.path().join("manifest.json"), "{").unwrap();
    let err = verify(dir.path()).unwrap_err().to_string();
    assert!(err.contains("is not a prepared dataset"), "{err}");
}

#[test]
fn resumed_samplers_yield_exactly_the_uninterrupted_batches() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_section(&["data.synthetic_bytes=400000", "data.shard_tokens=20000"]);
    let p = run(&data, dir.path(), &PassThrough).unwrap();
    let store = TokenStore::open(dir.path(), &p.manifest.split("train").shards, true).unwrap();

    let mut straight = RandomWindows::new(&store, 4, 32, 9).unwrap();
    let all: Vec<_> = (0..10).map(|_| straight.next_batch()).collect();
    let mut first = RandomWindows::new(&store, 4, 32, 9).unwrap();
    for b in &all[..6] {
        assert_eq!(&first.next_batch(), b);
    }
    let saved = serde_json::to_string(&first.state()).unwrap();
    drop(first);
    let mut resumed =
        RandomWindows::resume(&store, 4, 32, serde_json::from_str(&saved).unwrap()).unwrap();
    for b in &all[6..] {
        assert_eq!(&resumed.next_batch(), b);
    }
    // Targets are inputs shifted by one token.
    assert_eq!(all[0].inputs[1..32], all[0].targets[..31]);

    let mut seq = Sequential::new(&store, 8, 64).unwrap();
    let per_epoch = seq.windows_per_epoch();
    let batches: Vec<_> = (0..(per_epoch / 8 + 3)).map(|_| seq.next_batch()).collect();
    assert!(seq.state().epoch >= 1);
    let mut again = Sequential::new(&store, 8, 64).unwrap();
    for _ in 0..5 {
        again.next_batch();
    }
    let mut resumed = Sequential::resume(&store, 8, 64, again.state()).unwrap();
    for b in &batches[5..] {
        assert_eq!(&resumed.next_batch(), b);
    }
}

/// A source directory with a link back to itself and a FIFO: the walk ends,
/// the loop's files are read once, and the FIFO is an error naming it rather
/// than a read that never returns.
#[cfg(unix)]
#[test]
fn a_source_directory_with_a_link_loop_or_a_fifo_neither_loops_nor_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("corpus");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/a.txt"), "one\n").unwrap();
    std::os::unix::fs::symlink(&data, data.join("sub/loop")).unwrap();
    let files = codex_data::source::expand(std::slice::from_ref(&data)).unwrap();
    assert_eq!(files, [data.join("sub/a.txt")]);
    let fifo = data.join("pipe.txt");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let err = codex_data::source::expand(&[data]).unwrap_err().to_string();
    assert!(err.contains("pipe.txt") && err.contains("FIFO"), "{err}");
}

/// Every record of every source is accounted for, malformed CSV rows are
/// reported by file and line, and the filter learns where each text came from.
#[test]
fn every_record_is_accounted_for_per_source() {
    use std::sync::Mutex;

    /// Drops texts with "drop" and remembers the origins it was told.
    struct Recording(Mutex<Vec<String>>);
    impl TextFilter for Recording {
        fn name(&self) -> &str {
            "recording"
        }
        fn filter(&self, text: &str, _: Stage) -> Filtered {
            if text.contains("drop") {
                Filtered::new(Verdict::Drop, Vec::new())
            } else {
                Filtered::keep()
            }
        }
        fn filter_at(&self, text: &str, stage: Stage, origin: &str) -> Filtered {
            self.0.lock().unwrap().push(origin.to_owned());
            self.filter(text, stage)
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("a.txt");
    std::fs::write(
        &lines,
        b"one\n\n   \ntwo\none\nplease drop\n\xff\xfe\nthree\n",
    )
    .unwrap();
    let csv = dir.path().join("b.csv");
    std::fs::write(
        &csv,
        "id,text\n1,alpha\n2,beta,extra\n3\n4,\n5,gamma\n6,\"open quote\n7,swallowed\n8,too\n",
    )
    .unwrap();
    let data = data_section(&[
        &format!("data.sources=[{}, {}]", lines.display(), csv.display()),
        "data.validation_fraction=0",
    ]);
    let filter = Recording(Mutex::new(Vec::new()));
    let p = run(&data, &dir.path().join("o"), &filter).unwrap();
    let m = &p.manifest;
    let by_name = |name: &str| m.sources.iter().find(|s| s.path.ends_with(name)).unwrap();
    for s in &m.sources {
        assert_eq!(
            s.records,
            s.documents + s.skipped + s.dropped_empty + s.duplicates + s.filtered,
            "{s:?}"
        );
    }
    let a = by_name("a.txt");
    assert_eq!(
        (
            a.records,
            a.documents,
            a.skipped,
            a.dropped_empty,
            a.duplicates,
            a.filtered
        ),
        (8, 3, 1, 2, 1, 1)
    );
    let b = by_name("b.csv");
    assert_eq!(
        (b.records, b.documents, b.skipped, b.dropped_empty),
        (6, 2, 3, 1),
        "{b:?}"
    );
    let problems: Vec<(String, Option<u64>)> = p
        .diagnostics
        .iter()
        .filter(|d| {
            d.location
                .as_ref()
                .is_some_and(|l| l.path.ends_with("b.csv"))
        })
        .map(|d| (d.code.clone(), d.location.as_ref().and_then(|l| l.line)))
        .collect();
    assert_eq!(
        problems,
        [
            ("data.csv-columns".to_owned(), Some(3)),
            ("data.csv-columns".to_owned(), Some(4)),
            ("data.csv-unterminated-quote".to_owned(), Some(7)),
        ]
    );
    let origins = filter.0.into_inner().unwrap();
    assert!(
        origins.iter().any(|o| o.ends_with("a.txt:6")),
        "{origins:?}"
    );
    assert!(
        origins.iter().any(|o| o.ends_with("b.csv:6")),
        "{origins:?}"
    );
}
