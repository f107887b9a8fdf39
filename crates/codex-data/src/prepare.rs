//! Preparation: sources → filter → dedup → split → block shuffle → tokens → shards → manifest.
//!
//! Determinism: a document's split depends only on its text and the split seed,
//! and documents are shuffled within blocks by a keyed hash of their text, so
//! the same inputs and seed give the same shards on every machine and thread
//! count. Memory is bounded by one block per split plus the dedup set (16 bytes
//! per distinct document).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use codex_core::config::DataSection;
use codex_core::{
    Diagnostic, Digest, Seeds, Stage, TextFilter, Tokenizer, Verdict, write_bytes_atomic,
};

use codex_core::Severity;
use codex_core::config::{DataFormat, LossOn, OnError, Overlong};
use codex_tokenize::{ChatTemplate, HfTokenizer, RenderOptions, SpecialTokens};
use rayon::prelude::*;

use crate::error::DataError;
use crate::manifest::{
    ChatRecord, ChatSplitStats, FORMAT_VERSION, FilterRecord, Manifest, SourceRecord, SplitRecord,
};
use crate::shard::{Dtype, ShardWriter};
use crate::source::{Documents, SourceOptions, expand};
use crate::store::TokenStore;

/// Documents tokenized together (and shuffled together) per split.
const BLOCK: usize = 4096;

/// The three splits, in manifest order.
pub const SPLITS: [&str; 3] = ["train", "validation", "test"];

/// Everything `prepare` needs besides the data section.
pub struct PrepareInputs<'a> {
    /// The `data` section of the configuration.
    pub data: &'a DataSection,
    /// The run's seeds (split, shuffle and synthetic corpus seeds derive from it).
    pub seeds: Seeds,
    /// The tokenizer.
    pub tokenizer: &'a dyn Tokenizer,
    /// BLAKE3 of the tokenizer file (part of the cache key).
    pub tokenizer_blake3: Digest,
    /// Id appended after every document.
    pub eos_id: u32,
    /// Safety filter applied to every document at the `data` stage.
    pub filter: &'a dyn TextFilter,
    /// Output directory.
    pub out: &'a Path,
    /// Called with the number of documents read so far, every few thousand.
    pub on_documents: &'a (dyn Fn(u64) + Sync),
    /// With `data.format: chat`: how examples are rendered and masked.
    pub chat: Option<ChatInputs<'a>>,
}

/// How chat examples become ids and loss masks.
pub struct ChatInputs<'a> {
    /// The chat template.
    pub template: &'a ChatTemplate,
    /// The tokenizer, for its offsets and special tokens.
    pub tokenizer: &'a HfTokenizer,
    /// The special tokens the template sees.
    pub special: SpecialTokens,
    /// Which tokens the loss counts.
    pub loss_on: LossOn,
    /// Longest example in tokens.
    pub max_length: usize,
    /// What to do with a longer one.
    pub overlong: Overlong,
}

impl std::fmt::Debug for ChatInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatInputs")
            .field("template", &self.template.origin())
            .field("loss_on", &self.loss_on)
            .field("max_length", &self.max_length)
            .finish_non_exhaustive()
    }
}

/// The chat inputs `cfg` asks for with the tokenizer file `tokenizer`: its
/// template (`data.chat_template`, else the tokenizer directory's own), its
/// special tokens, `train.loss_on`, and `data.max_length` (else
/// `model.context_length` + 1). The caller keeps the template and tokenizer.
pub fn chat_parts(
    cfg: &codex_core::config::AppConfig,
    tokenizer: &Path,
) -> Result<(ChatTemplate, HfTokenizer, SpecialTokens), DataError> {
    let dir = tokenizer.parent().unwrap_or(Path::new("."));
    let tok = HfTokenizer::from_file(tokenizer).map_err(|e| DataError::Tokenize(e.to_string()))?;
    let template =
        ChatTemplate::resolve(cfg.data.chat_template.as_deref(), dir, "data.chat_template")
            .map_err(|e| DataError::Chat(e.to_string()))?;
    let special = SpecialTokens::read(dir)
        .map_err(|e| DataError::Tokenize(e.to_string()))?
        .unwrap_or_default();
    Ok((template, tok, special))
}

/// The longest chat example `cfg` allows, in tokens.
pub fn chat_max_length(cfg: &codex_core::config::AppConfig) -> usize {
    cfg.data
        .max_length
        .map_or(cfg.model.context_length as usize + 1, |m| m as usize)
}

/// `codex data prepare` as a call: `tok`, loaded from the file
/// `tokenizer` (whose BLAKE3 joins the cache key), the document separator
/// from `tokenizer.special_tokens[0]`, and the `data` section and seed of
/// `cfg`.
pub fn prepare_with_tokenizer(
    cfg: &codex_core::config::AppConfig,
    tok: &dyn Tokenizer,
    tokenizer: &Path,
    filter: &dyn TextFilter,
    out: &Path,
    on_documents: &(dyn Fn(u64) + Sync),
) -> Result<Prepared, DataError> {
    let (tokenizer_blake3, _) = codex_core::hash_file(tokenizer)?;
    let eos = cfg
        .tokenizer
        .special_tokens
        .first()
        .ok_or_else(|| DataError::BadSource {
            path: tokenizer.to_owned(),
            problem: "tokenizer.special_tokens is empty: the first one separates documents".into(),
        })?;
    let eos_id = tok.token_to_id(eos).ok_or_else(|| DataError::BadSource {
        path: tokenizer.to_owned(),
        problem: format!(
            "the document separator `{eos}` (tokenizer.special_tokens[0]) is not in the tokenizer"
        ),
    })?;
    let parts = match cfg.data.format {
        DataFormat::Chat => Some(chat_parts(cfg, tokenizer)?),
        _ => None,
    };
    prepare(&PrepareInputs {
        data: &cfg.data,
        seeds: Seeds::new(cfg.run.seed),
        tokenizer: tok,
        tokenizer_blake3,
        eos_id,
        filter,
        out,
        on_documents,
        chat: parts
            .as_ref()
            .map(|(template, tokenizer, special)| ChatInputs {
                template,
                tokenizer,
                special: special.clone(),
                loss_on: cfg.train.loss_on,
                max_length: chat_max_length(cfg),
                overlong: cfg.data.overlong,
            }),
    })
}

impl std::fmt::Debug for PrepareInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrepareInputs")
            .field("out", &self.out)
            .finish()
    }
}

/// What `prepare` did.
#[derive(Debug)]
pub struct Prepared {
    /// The dataset's manifest.
    pub manifest: Manifest,
    /// True when an up-to-date preparation already existed and nothing was done.
    pub cached: bool,
    /// Malformed records and other findings.
    pub diagnostics: Vec<Diagnostic>,
}

impl Prepared {
    /// What was prepared into `out`: per split documents, tokens and shards,
    /// duplicates and malformed records.
    pub fn to_text(&self, out: &Path) -> String {
        let m = &self.manifest;
        let mut r = codex_core::TextReport::new(0);
        if self.cached {
            r.line(format_args!(
                "{} is up to date (same sources, tokenizer and settings); nothing to do",
                out.display()
            ));
        } else {
            r.line(format_args!(
                "prepared {} in {:.1}s",
                out.display(),
                m.duration_secs
            ));
        }
        for name in SPLITS {
            let s = m.split(name);
            r.line(format_args!(
                "  {name:<10} {:>9} documents {:>11} tokens {:>3} shards",
                s.documents,
                s.tokens,
                s.shards.len()
            ));
        }
        if m.duplicates_removed > 0 || m.records_skipped > 0 {
            r.line(format_args!(
                "  {} duplicates removed, {} malformed records skipped",
                m.duplicates_removed, m.records_skipped
            ));
        }
        if let Some(line) = m.filter.summary_line() {
            r.line(format_args!("  {line}"));
        }
        r.finish()
    }
}

/// What the safety filter did to a document.
enum Screened {
    /// Kept, possibly redacted or flagged.
    Kept(String, Acted),
    /// Dropped.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Acted {
    Nothing,
    Flagged,
    Redacted,
}

/// One text through the filter at the data stage; each rule that matched is
/// counted in `record.rules` (the document totals are the caller's).
fn screen(
    filter: &dyn TextFilter,
    text: String,
    origin: &str,
    record: &mut FilterRecord,
) -> Screened {
    let filtered = filter.filter_at(&text, Stage::Data, origin);
    record.allowlisted += filtered.allowlisted as u64;
    let mut rules: Vec<&str> = filtered
        .findings
        .iter()
        .map(|f| f.rule_id.as_str())
        .collect();
    rules.sort_unstable();
    rules.dedup();
    for rule in rules {
        let c = record.rules.entry(rule.to_owned()).or_default();
        match &filtered.verdict {
            Verdict::Keep => c.flagged += 1,
            Verdict::Redact(_) => c.redacted += 1,
            Verdict::Drop => c.dropped += 1,
        }
    }
    match filtered.verdict {
        Verdict::Keep if filtered.findings.is_empty() => Screened::Kept(text, Acted::Nothing),
        Verdict::Keep => Screened::Kept(text, Acted::Flagged),
        Verdict::Redact(t) => Screened::Kept(t, Acted::Redacted),
        Verdict::Drop => Screened::Dropped,
    }
}

/// A chat example (its messages as JSON) through the filter message by
/// message: dropped when any message is, redacted where any is (rules
/// counted per message).
fn screen_chat(
    filter: &dyn TextFilter,
    json: &str,
    origin: &str,
    record: &mut FilterRecord,
) -> Screened {
    let mut messages: Vec<serde_json::Value> =
        serde_json::from_str(json).expect("the reader wrote a JSON list");
    let mut acted = Acted::Nothing;
    for m in &mut messages {
        let content = m["content"].as_str().unwrap_or_default().to_owned();
        match screen(filter, content, origin, record) {
            Screened::Dropped => return Screened::Dropped,
            Screened::Kept(text, a) => {
                acted = acted.max(a);
                m["content"] = serde_json::Value::String(text);
            }
        }
    }
    Screened::Kept(serde_json::Value::Array(messages).to_string(), acted)
}

/// Which split a text belongs to, from its content and the split seed alone.
pub fn split_of(text: &str, seed: u64, validation: f64, test: f64) -> usize {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(text.as_bytes());
    let x = u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
    // 53 bits give a uniform double in [0, 1).
    let r = (x >> 11) as f64 / (1u64 << 53) as f64;
    if r < validation {
        1
    } else if r < validation + test {
        2
    } else {
        0
    }
}

fn dedup_key(text: &str) -> u128 {
    let mut h = blake3::Hasher::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(word.as_bytes());
    }
    u128::from_le_bytes(h.finalize().as_bytes()[..16].try_into().expect("16 bytes"))
}

fn shuffle_key(text: &str, seed: u64) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(text.as_bytes());
    h.finalize().as_bytes()[..16].try_into().expect("16 bytes")
}

/// A document waiting in its split's block, with where it came from.
struct Pending {
    text: String,
    file: usize,
    line: u64,
}

struct SplitBuilder {
    writer: ShardWriter,
    /// Chat data: the loss masks and the examples' lengths.
    masks: Option<ShardWriter>,
    lengths: Option<ShardWriter>,
    block: Vec<Pending>,
    record: SplitRecord,
}

/// Where records come from and what to do with one the template refuses.
struct Origins<'a> {
    paths: &'a [PathBuf],
    on_error: OnError,
}

impl SplitBuilder {
    fn flush(
        &mut self,
        inputs: &PrepareInputs<'_>,
        shuffle_seed: u64,
        origins: &Origins<'_>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<(), DataError> {
        if self.block.is_empty() {
            return Ok(());
        }
        let mut block = std::mem::take(&mut self.block);
        block.sort_by_cached_key(|p| shuffle_key(&p.text, shuffle_seed));
        if let Some(chat) = &inputs.chat {
            return self.flush_chat(chat, block, origins, diagnostics);
        }
        let refs: Vec<&str> = block.iter().map(|p| p.text.as_str()).collect();
        let encoded = inputs
            .tokenizer
            .encode_batch(&refs, false)
            .map_err(|e| DataError::Tokenize(e.to_string()))?;
        let mut tokens = Vec::with_capacity(encoded.iter().map(|e| e.len() + 1).sum());
        for ids in &encoded {
            tokens.extend_from_slice(ids);
            tokens.push(inputs.eos_id);
        }
        self.writer.write(&tokens)?;
        self.record.documents += block.len() as u64;
        self.record.tokens += tokens.len() as u64;
        Ok(())
    }

    /// Chat examples: rendered and masked in parallel, then cut or left out
    /// by length, and written as ids, masks and lengths.
    fn flush_chat(
        &mut self,
        chat: &ChatInputs<'_>,
        block: Vec<Pending>,
        origins: &Origins<'_>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<(), DataError> {
        let options = RenderOptions {
            add_generation_prompt: false,
            special: chat.special.clone(),
            extra: serde_json::Map::new(),
        };
        let encoded: Vec<_> = block
            .par_iter()
            .map(|p| {
                let messages: Vec<serde_json::Value> =
                    serde_json::from_str(&p.text).expect("the reader wrote a JSON list");
                chat.template
                    .encode(chat.tokenizer, &messages, &options, chat.loss_on)
            })
            .collect();
        let stats = self.record.chat.get_or_insert_with(ChatSplitStats::default);
        let mut ids_out: Vec<u32> = Vec::new();
        let mut mask_out: Vec<u32> = Vec::new();
        let mut lengths: Vec<u32> = Vec::new();
        for (p, enc) in block.iter().zip(encoded) {
            let mut enc = match enc {
                Ok(e) => e,
                Err(e) => {
                    stats.refused += 1;
                    let path = origins.paths[p.file].clone();
                    match origins.on_error {
                        OnError::Skip => {
                            diagnostics.push(
                                Diagnostic::new(
                                    Severity::Warning,
                                    "data.chat-template",
                                    e.to_string(),
                                )
                                .at(path, Some(p.line)),
                            );
                            continue;
                        }
                        OnError::Fail => {
                            return Err(DataError::BadRecord {
                                path,
                                line: p.line,
                                message: e.to_string(),
                            });
                        }
                    }
                }
            };
            if enc.ids.len() > chat.max_length {
                match chat.overlong {
                    Overlong::Drop => {
                        stats.dropped_overlong += 1;
                        continue;
                    }
                    Overlong::Truncate => {
                        enc.ids.truncate(chat.max_length);
                        enc.mask.truncate(chat.max_length);
                        stats.truncated += 1;
                    }
                }
            }
            // The first token is never a target.
            let counted: u64 = enc.mask.iter().skip(1).map(|&m| u64::from(m)).sum();
            if counted == 0 {
                stats.dropped_no_loss += 1;
                continue;
            }
            stats.masked_tokens += counted;
            lengths.push(enc.ids.len() as u32);
            ids_out.extend(&enc.ids);
            mask_out.extend(enc.mask.iter().map(|&m| u32::from(m)));
        }
        self.writer.write(&ids_out)?;
        self.masks
            .as_mut()
            .expect("chat builders have mask shards")
            .write(&mask_out)?;
        self.lengths
            .as_mut()
            .expect("chat builders have length shards")
            .write(&lengths)?;
        self.record.documents += lengths.len() as u64;
        self.record.tokens += ids_out.len() as u64;
        Ok(())
    }
}

fn params(inputs: &PrepareInputs<'_>) -> serde_json::Value {
    let chat = inputs.chat.as_ref().map(|c| {
        serde_json::json!({
            "template_blake3": Digest::of(c.template.source().as_bytes()),
            "special": c.special,
            "loss_on": c.loss_on,
            "max_length": c.max_length,
            "overlong": c.overlong,
        })
    });
    serde_json::json!({
        "chat": chat,
        "data": inputs.data,
        "split_seed": inputs.seeds.derive("data.split"),
        "shuffle_seed": inputs.seeds.derive("data.shuffle"),
        "synth_seed": inputs.seeds.derive("data.synth"),
        "eos_id": inputs.eos_id,
        "block": BLOCK,
        "filter": inputs.filter.fingerprint(),
    })
}

fn cache_key(
    sources: &[SourceRecord],
    inputs: &PrepareInputs<'_>,
    params: &serde_json::Value,
) -> Digest {
    let mut h = codex_core::Hasher::new();
    h.update(&FORMAT_VERSION.to_le_bytes());
    for s in sources {
        h.update(s.blake3.as_bytes());
    }
    h.update(inputs.tokenizer_blake3.as_bytes());
    h.update(params.to_string().as_bytes());
    h.finalize()
}

/// Whether `dir` already holds a preparation with `key` whose shard files exist
/// with the sizes the manifest expects.
fn up_to_date(dir: &Path, key: Digest) -> Option<Manifest> {
    let manifest = Manifest::load(dir).ok().filter(|m| m.cache_key == key)?;
    manifest
        .splits
        .values()
        .all(|s| {
            [&s.shards, &s.masks, &s.lengths]
                .into_iter()
                .all(|records| TokenStore::open(dir, records, false).is_ok())
        })
        .then_some(manifest)
}

/// Prepares (or finds up to date) the dataset in `inputs.out`.
pub fn prepare(inputs: &PrepareInputs<'_>) -> Result<Prepared, DataError> {
    let start = Instant::now();
    let out = inputs.out;
    std::fs::create_dir_all(out).map_err(|source| DataError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let data = inputs.data;
    if data.format == DataFormat::Chat && data.sources.is_empty() {
        return Err(DataError::Chat(
            "data.format is chat but data.sources is empty: the built-in corpus is plain text; give chat JSONL files (codex data synth --kind chat writes one)".into(),
        ));
    }
    let (files, synthetic) = if data.sources.is_empty() {
        let path = out.join("synthetic.txt");
        let seed = inputs.seeds.derive("data.synth");
        let wanted = (data.synthetic_bytes, seed);
        // Regenerate only when size or seed changed: the bytes are a pure function of both.
        let marker = out.join("synthetic.json");
        let current = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| serde_json::from_str::<(u64, u64)>(&s).ok());
        if current != Some(wanted) || !path.exists() {
            codex_core::write_atomic(&path, |f| {
                crate::synth::write_corpus(f, data.synthetic_bytes, seed)
                    .map(|_| ())
                    .map_err(|source| DataError::Io {
                        path: path.clone(),
                        source,
                    })
            })?;
            write_bytes_atomic(
                &marker,
                serde_json::to_string(&wanted).expect("tuple").as_bytes(),
            )?;
        }
        (vec![path], Some(wanted))
    } else {
        (expand(&data.sources)?, None)
    };

    let mut sources: Vec<SourceRecord> = files
        .iter()
        .map(|p| {
            let (blake3, bytes) = codex_core::hash_file(p)?;
            Ok(SourceRecord {
                path: p.clone(),
                bytes,
                blake3,
                records: 0,
                skipped: 0,
                documents: 0,
                dropped_empty: 0,
                duplicates: 0,
                filtered: 0,
            })
        })
        .collect::<Result<_, DataError>>()?;
    let params = params(inputs);
    let key = cache_key(&sources, inputs, &params);
    if let Some(manifest) = up_to_date(out, key) {
        return Ok(Prepared {
            manifest,
            cached: true,
            diagnostics: Vec::new(),
        });
    }

    let vocab_size = inputs.tokenizer.vocab_size();
    let dtype = Dtype::for_vocab(vocab_size);
    let split_seed = inputs.seeds.derive("data.split");
    let shuffle_seed = inputs.seeds.derive("data.shuffle");
    let mut builders: Vec<SplitBuilder> = SPLITS
        .iter()
        .map(|name| SplitBuilder {
            writer: ShardWriter::new(out, name, dtype, data.shard_tokens),
            masks: inputs.chat.as_ref().map(|_| {
                ShardWriter::new(out, &format!("{name}-mask"), Dtype::U8, data.shard_tokens)
            }),
            lengths: inputs.chat.as_ref().map(|_| {
                ShardWriter::new(
                    out,
                    &format!("{name}-lengths"),
                    Dtype::U32,
                    data.shard_tokens,
                )
            }),
            block: Vec::with_capacity(BLOCK),
            record: SplitRecord::default(),
        })
        .collect();
    let mut filter = FilterRecord {
        name: inputs.filter.name().to_owned(),
        ..FilterRecord::default()
    };
    let mut seen: HashSet<u128> = HashSet::new();
    let mut duplicates = 0u64;
    let options = SourceOptions {
        format: data.format,
        separator: data.separator.clone(),
        text_fields: data
            .text_field
            .split(',')
            .map(|f| f.trim().to_owned())
            .collect(),
        on_error: data.on_error,
        chat_fields: data.chat_fields.clone(),
    };
    if data.format == DataFormat::Chat && inputs.chat.is_none() {
        return Err(DataError::Chat(
            "data.format is chat but no chat template was given to prepare".into(),
        ));
    }
    let paths = files.clone();
    let origins = Origins {
        paths: &paths,
        on_error: data.on_error,
    };
    let mut chat_diagnostics: Vec<Diagnostic> = Vec::new();
    let mut docs = Documents::new(files, options);
    let mut read = 0u64;
    while let Some(doc) = docs.next_document()? {
        read += 1;
        if read.is_multiple_of(4096) {
            (inputs.on_documents)(read);
        }
        let origin = format!("{}:{}", paths[doc.file].display(), doc.line);
        let screened = if data.format == DataFormat::Chat {
            screen_chat(inputs.filter, &doc.text, &origin, &mut filter)
        } else {
            screen(inputs.filter, doc.text, &origin, &mut filter)
        };
        let text = match screened {
            Screened::Kept(text, acted) => {
                match acted {
                    Acted::Nothing => {}
                    Acted::Flagged => filter.flagged += 1,
                    Acted::Redacted => filter.redacted += 1,
                }
                text
            }
            Screened::Dropped => {
                filter.dropped += 1;
                sources[doc.file].filtered += 1;
                continue;
            }
        };
        if text.trim().is_empty() {
            // Redacted down to nothing.
            sources[doc.file].dropped_empty += 1;
            continue;
        }
        if data.dedup && !seen.insert(dedup_key(&text)) {
            duplicates += 1;
            sources[doc.file].duplicates += 1;
            continue;
        }
        sources[doc.file].documents += 1;
        let split = split_of(
            &text,
            split_seed,
            data.validation_fraction,
            data.test_fraction,
        );
        let b = &mut builders[split];
        b.block.push(Pending {
            text,
            file: doc.file,
            line: doc.line,
        });
        if b.block.len() == BLOCK {
            b.flush(inputs, shuffle_seed, &origins, &mut chat_diagnostics)?;
        }
    }
    for (s, c) in sources.iter_mut().zip(&docs.counts) {
        s.records = c.records;
        s.skipped = c.skipped;
        s.dropped_empty += c.empty;
    }
    let mut splits = BTreeMap::new();
    for (name, mut b) in SPLITS.iter().zip(builders) {
        b.flush(inputs, shuffle_seed, &origins, &mut chat_diagnostics)?;
        b.record.shards = b.writer.finish()?;
        if let Some(w) = b.masks {
            b.record.masks = w.finish()?;
        }
        if let Some(w) = b.lengths {
            b.record.lengths = w.finish()?;
        }
        if inputs.chat.is_some() {
            b.record.chat.get_or_insert_with(ChatSplitStats::default);
        }
        splits.insert((*name).to_owned(), b.record);
    }
    if splits["train"].documents == 0 {
        return Err(DataError::EmptyCorpus {
            sources: sources
                .iter()
                .map(|s| s.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let old = Manifest::load(out).ok();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        codex_version: env!("CARGO_PKG_VERSION").to_owned(),
        cache_key: key,
        sources,
        synthetic,
        params,
        tokenizer_blake3: inputs.tokenizer_blake3,
        vocab_size,
        eos_id: inputs.eos_id,
        dtype,
        splits,
        duplicates_removed: duplicates,
        filter,
        records_skipped: docs.counts.iter().map(|c| c.skipped).sum(),
        duration_secs: start.elapsed().as_secs_f64(),
        chat: inputs.chat.as_ref().map(|c| ChatRecord {
            template: c.template.origin().to_owned(),
            template_blake3: Digest::of(c.template.source().as_bytes()),
            loss_on: c.loss_on,
            max_length: c.max_length as u64,
        }),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| DataError::BadManifest {
        path: out.join("manifest.json"),
        problem: e.to_string(),
    })?;
    write_bytes_atomic(out.join("manifest.json"), &json)?;
    // Shards of an earlier preparation that this one no longer has.
    if let Some(old) = old {
        let current: HashSet<PathBuf> = manifest
            .splits
            .values()
            .flat_map(SplitRecord::files)
            .map(|r| r.path.clone())
            .collect();
        for stale in old
            .splits
            .values()
            .flat_map(SplitRecord::files)
            .filter(|r| !current.contains(&r.path))
        {
            let _ = std::fs::remove_file(out.join(&stale.path));
        }
    }
    let mut diagnostics = docs.diagnostics;
    diagnostics.extend(chat_diagnostics);
    Ok(Prepared {
        manifest,
        cached: false,
        diagnostics,
    })
}

/// Checks every shard of a prepared dataset against its manifest (size, header, BLAKE3).
pub fn verify(dir: &Path) -> Result<Manifest, DataError> {
    let manifest = Manifest::load(dir)?;
    for split in manifest.splits.values() {
        TokenStore::open(dir, &split.shards, true)?;
        TokenStore::open(dir, &split.masks, true)?;
        TokenStore::open(dir, &split.lengths, true)?;
    }
    Ok(manifest)
}
