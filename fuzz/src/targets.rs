//! The bodies of codex's fuzz targets: untrusted bytes through each parser
//! that reads files a user (or an attacker) hands codex. Each must return an
//! error or a value, never panic, hang or write outside its scratch
//! directory. Shared by the libFuzzer binaries (`fuzz/fuzz_targets/`) and the
//! deterministic mutation sweep the test suite runs on every CI build
//! (`crates/codex/tests/fuzz_sweep.rs`).

use std::path::Path;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("data_source", data_source),
    ("safetensors", safetensors),
    ("hf_config", hf_config),
    ("checkpoint_state", checkpoint_state),
    ("safety_policy", safety_policy),
    ("tokenizer_json", tokenizer_json),
    ("task_yaml", task_yaml),
    ("audit_tree", audit_tree),
];

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("scratch is writable");
    p
}

/// A YAML configuration file layered over the embedded default.
pub fn config(data: &[u8]) {
    let dir = scratch();
    let path = write(dir.path(), "c.yaml", data);
    let _ = codex_core::config::ConfigLoader::new().file(path).load();
}

/// The same bytes as a JSON Lines file and as a CSV file, read document by document.
pub fn data_source(data: &[u8]) {
    let dir = scratch();
    for name in ["d.jsonl", "d.csv", "d.txt"] {
        let path = write(dir.path(), name, data);
        for chat in [false, true] {
            let options = codex_data::source::SourceOptions {
                format: if chat {
                    codex_core::config::DataFormat::Chat
                } else {
                    codex_core::config::DataFormat::Auto
                },
                separator: "\n\n".into(),
                text_fields: vec!["text".into()],
                on_error: codex_core::config::OnError::Skip,
                chat_fields: Default::default(),
            };
            let mut docs = codex_data::source::Documents::new(vec![path.clone()], options);
            for _ in 0..10_000 {
                match docs.next_document() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }
}

const TINY_CONFIG: &str = r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"vocab_size":16,"max_position_embeddings":8,"rms_norm_eps":1e-6,"tie_word_embeddings":true}"#;

/// A `model.safetensors` beside a valid tiny `config.json`: summarized and imported.
pub fn safetensors(data: &[u8]) {
    let dir = scratch();
    write(dir.path(), "config.json", TINY_CONFIG.as_bytes());
    write(dir.path(), "model.safetensors", data);
    let _ = codex_model::summarize_hf(dir.path());
    if let Ok(device) = codex_model::DeviceSpec::Cpu.device() {
        let _ = codex_model::import_hf(dir.path(), &device);
    }
}

/// A Hugging Face `config.json`.
pub fn hf_config(data: &[u8]) {
    let dir = scratch();
    let path = write(dir.path(), "config.json", data);
    let _ = codex_model::read_hf_config(&path);
}

/// A checkpoint's `state.json` and a checkpoints directory's `index.json`.
pub fn checkpoint_state(data: &[u8]) {
    let dir = scratch();
    let path = write(dir.path(), "state.json", data);
    let _ = codex_train::checkpoint::read_state(&path);
    write(dir.path(), "index.json", data);
    let _ = codex_train::checkpoint::read_index(dir.path());
}

/// A safety policy, as YAML and as gitleaks TOML; a compiled one scans its own text.
pub fn safety_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for file in [
        codex_safety::PolicyFile::from_yaml(text, "fuzz.yaml"),
        codex_safety::PolicyFile::from_gitleaks_toml(text, "fuzz.toml"),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(policy) = codex_safety::Policy::compile(file, "fuzz") {
            let _ = codex_safety::Scanner::new(policy).scan_all(text, None);
        }
    }
}

/// A `tokenizer.json`: loaded, then encoding and decoding a few texts.
pub fn tokenizer_json(data: &[u8]) {
    if let Ok(tok) = codex_tokenize::HfTokenizer::from_bytes(data) {
        for text in ["", "Hello  world\t😀 東京", "<|endoftext|>x"] {
            if let Ok(ids) = tok.encode(text, true) {
                let _ = tok.decode(&ids.ids, false);
            }
        }
    }
}

/// A benchmark task file beside a small data file: read, loaded, prompts built.
pub fn task_yaml(data: &[u8]) {
    let dir = scratch();
    write(
        dir.path(),
        "data.jsonl",
        b"{\"q\": \"one\", \"a\": \"1\", \"c\": [\"x\", \"y\"], \"l\": 0}\n{\"q\": \"two\", \"a\": \"2\", \"c\": [\"y\", \"z\"], \"l\": 1}\n",
    );
    let path = write(dir.path(), "t.yaml", data);
    if let Ok(set) = codex_eval::tasks::load_tasks(&[path]) {
        for t in &set.tasks {
            let _ = t.requests(1, Some(2), codex_eval::tasks::FEWSHOT_SEED);
        }
    }
}

/// A tree built from the bytes (names from the first line of each chunk,
/// contents from the rest, some chunks made links or nested directories),
/// audited into an output directory beside it.
pub fn audit_tree(data: &[u8]) {
    let dir = scratch();
    let root = dir.path().join("tree");
    std::fs::create_dir(&root).expect("scratch is writable");
    for (i, chunk) in data.split(|&b| b == 0).take(32).enumerate() {
        let (name, body) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (&chunk[..at], &chunk[at + 1..]),
            None => (chunk, &[][..]),
        };
        // Names keep their odd bytes but stay inside the tree.
        let mut clean: Vec<u8> = name
            .iter()
            .copied()
            .filter(|&b| b != b'/' && b != 0)
            .take(64)
            .collect();
        if clean.is_empty() || clean == b"." || clean == b".." {
            clean = format!("f{i}").into_bytes();
        }
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(&clean);
        let parent = if i % 3 == 2 {
            let d = root.join(format!("d{i}"));
            let _ = std::fs::create_dir_all(&d);
            d
        } else {
            root.clone()
        };
        let path = parent.join(name);
        match body.first() {
            Some(b'@') => {
                let _ = std::os::unix::fs::symlink(
                    if i % 2 == 0 { "/etc/passwd" } else { ".." },
                    &path,
                );
            }
            _ => {
                let _ = std::fs::write(&path, body);
            }
        }
    }
    let request = codex_audit::AuditRequest {
        root,
        out: dir.path().join("out"),
        formats: vec![
            codex_audit::ReportFormat::Json,
            codex_audit::ReportFormat::Md,
        ],
        options: codex_audit::InventoryOptions::default(),
        generated_at: "fuzz".into(),
        fail_on: Vec::new(),
    };
    let _ = codex_audit::run_job(&request, &|_, _| {});
}

/// Deterministic mutations of a seed (for the sweep): byte flips, insertions,
/// deletions, duplications, truncations and splices of interesting bytes.
pub fn mutate(seed: &[u8], rng: &mut codex_core::Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                const SPECIAL: &[u8] = b"\0\xff\n\r\t\"'{}[]:,-#!&*|>%@`\\";
                v.insert(i, SPECIAL[rng.below(SPECIAL.len())]);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let piece: Vec<u8> = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            4 if len > 0 => v.truncate(rng.below(len)),
            5 if len > 0 => {
                let i = rng.below(len);
                v[i] = [0u8, 0x7f, 0x80, 0xff, b'9', b'-'][rng.below(6)];
            }
            _ => {
                let i = rng.below(len + 1);
                let numbers: &[&[u8]] = &[
                    b"18446744073709551616",
                    b"-1",
                    b"1e308",
                    b"NaN",
                    b"0",
                    b"4294967296",
                ];
                v.splice(i..i, numbers[rng.below(numbers.len())].iter().copied());
            }
        }
    }
    v
}
