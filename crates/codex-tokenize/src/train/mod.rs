//! Training tokenizers from streamed corpora, and the manifest that records how.

mod corpus;
mod unigram;
mod wordpiece;
mod words;

use std::path::{Path, PathBuf};
use std::time::Instant;

use codex_core::config::{OnError, TokenizerKind};
use codex_core::{Diagnostic, Digest, write_bytes_atomic};
use serde::{Deserialize, Serialize};
use tokenizers::Trainer;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::metaspace::PrependScheme;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::models::unigram::Unigram;
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainerBuilder};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::{BertNormalizer, NFKC, NormalizerWrapper};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::metaspace::Metaspace;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, Tokenizer};

pub(crate) use corpus::{CorpusReader, SharedState};
pub use corpus::{InputRecord, expand_inputs};

use crate::error::TokenizeError;
use crate::hf::HfTokenizer;

/// The `tokenizers` version codex is built against (checked against Cargo.lock by a test).
pub const TOKENIZERS_VERSION: &str = "0.23.2";

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Model family.
    pub kind: TokenizerKind,
    /// Target vocabulary size, special tokens included.
    pub vocab_size: u32,
    /// Minimum frequency of a merge or token.
    pub min_frequency: u32,
    /// Special tokens, added first in this order.
    pub special_tokens: Vec<String>,
    /// Recorded in the manifest; the trainers themselves are deterministic.
    pub seed: u64,
    /// JSONL field holding the text.
    pub text_field: String,
    /// What to do with malformed lines and invalid UTF-8.
    pub on_error: OnError,
    /// Let the library draw its progress bar on stderr.
    pub show_progress: bool,
    /// Recorded in the manifest.
    pub command_line: Vec<String>,
}

impl TrainConfig {
    /// The training settings of a resolved configuration (`tokenizer`, and the
    /// `data` section's JSONL field and error policy), recording `command_line`.
    pub fn from_config(cfg: &codex_core::config::AppConfig, command_line: Vec<String>) -> Self {
        Self {
            kind: cfg.tokenizer.kind,
            vocab_size: cfg.tokenizer.vocab_size,
            min_frequency: cfg.tokenizer.min_frequency,
            special_tokens: cfg.tokenizer.special_tokens.clone(),
            seed: cfg.run.seed,
            text_field: cfg.data.text_field.clone(),
            on_error: cfg.data.on_error,
            show_progress: false,
            command_line,
        }
    }
}

/// `manifest.json` beside a trained `tokenizer.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub schema_version: u32,
    /// The codex-tokenize version that trained it.
    pub codex_version: String,
    /// `bpe`, `unigram`, `wordpiece` or `wordlevel`.
    pub kind: String,
    /// Requested vocabulary size.
    pub vocab_size_requested: u32,
    /// Resulting vocabulary size.
    pub vocab_size: usize,
    /// Minimum frequency.
    pub min_frequency: u32,
    /// Special tokens in id order.
    pub special_tokens: Vec<String>,
    /// Seed of the run.
    pub seed: u64,
    /// Whether training the same inputs with the same settings gives the same
    /// bytes in every process and on any number of threads: true for every kind
    /// this version trains (Unigram and WordPiece use codex's own trainers, as
    /// upstream's depend on per-process hash seeds); false in manifests written
    /// by earlier versions for those two kinds.
    pub reproducible: bool,
    /// Distinct characters seen (0 for byte-level BPE, whose alphabet is the 256 bytes).
    pub alphabet_size: usize,
    /// File name of the tokenizer.
    pub tokenizer_file: String,
    /// BLAKE3 of the tokenizer file.
    pub tokenizer_blake3: Digest,
    /// Every input, with size, hash and counts.
    pub inputs: Vec<InputRecord>,
    /// Documents used.
    pub documents: u64,
    /// Library versions.
    pub libraries: std::collections::BTreeMap<String, String>,
    /// The command that trained it.
    pub command_line: Vec<String>,
    /// Wall time of training in seconds.
    pub duration_secs: f64,
}

/// A trained tokenizer, its serialized form, manifest and the problems met on the way.
#[derive(Debug)]
pub struct Trained {
    /// The tokenizer.
    pub tokenizer: HfTokenizer,
    /// `tokenizer.json` content.
    pub json: String,
    /// The manifest.
    pub manifest: Manifest,
    /// Malformed lines that were skipped.
    pub diagnostics: Vec<Diagnostic>,
}

impl Trained {
    /// Writes `tokenizer.json` and `manifest.json` into `dir` (created if needed), atomically.
    pub fn write(&self, dir: &Path) -> Result<(), TokenizeError> {
        std::fs::create_dir_all(dir).map_err(|source| TokenizeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let core = |e: codex_core::Error| TokenizeError::library("save", e);
        write_bytes_atomic(
            dir.join(&self.manifest.tokenizer_file),
            self.json.as_bytes(),
        )
        .map_err(core)?;
        let manifest = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| TokenizeError::library("save", e))?;
        write_bytes_atomic(dir.join("manifest.json"), &manifest).map_err(core)?;
        Ok(())
    }
}

pub(crate) fn kind_name(kind: TokenizerKind) -> &'static str {
    match kind {
        TokenizerKind::Bpe => "bpe",
        TokenizerKind::Unigram => "unigram",
        TokenizerKind::Wordpiece => "wordpiece",
        TokenizerKind::Wordlevel => "wordlevel",
    }
}

/// The unknown token each non-byte-level family needs, added to the specials if absent.
fn unk_token(kind: TokenizerKind) -> Option<&'static str> {
    match kind {
        TokenizerKind::Bpe => None,
        TokenizerKind::Wordpiece => Some("[UNK]"),
        TokenizerKind::Unigram | TokenizerKind::Wordlevel => Some("<unk>"),
    }
}

/// The trainer of each family: upstream's for byte-level BPE and WordLevel
/// (whose results depend only on the corpus), codex's own for Unigram and
/// WordPiece (whose upstream trainers depend on per-process hash seeds).
enum Trainers {
    Upstream(TrainerWrapper),
    Unigram(unigram::DeterministicUnigram),
    WordPiece(wordpiece::DeterministicWordPiece),
}

impl Trainer for Trainers {
    type Model = ModelWrapper;

    fn should_show_progress(&self) -> bool {
        match self {
            Self::Upstream(t) => t.should_show_progress(),
            Self::Unigram(t) => t.should_show_progress(),
            Self::WordPiece(t) => t.should_show_progress(),
        }
    }

    fn train(&self, model: &mut ModelWrapper) -> tokenizers::Result<Vec<AddedToken>> {
        match self {
            Self::Upstream(t) => t.train(model),
            Self::Unigram(t) => t.train(model),
            Self::WordPiece(t) => t.train(model),
        }
    }

    fn feed<I, S, F>(&mut self, iterator: I, process: F) -> tokenizers::Result<()>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
        F: Fn(&str) -> tokenizers::Result<Vec<String>> + Sync,
    {
        match self {
            Self::Upstream(t) => t.feed(iterator, process),
            Self::Unigram(t) => t.feed(iterator, process),
            Self::WordPiece(t) => t.feed(iterator, process),
        }
    }
}

/// Trains a tokenizer on `inputs` (files or directories), streaming them once.
pub fn train(config: &TrainConfig, inputs: &[PathBuf]) -> Result<Trained, TokenizeError> {
    train_with_progress(config, inputs, &|_| {})
}

/// Total size in bytes of the files `inputs` expands to, for progress displays.
pub fn input_bytes(inputs: &[PathBuf]) -> Result<u64, TokenizeError> {
    expand_inputs(inputs)?
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|source| TokenizeError::Io {
                    path: p.clone(),
                    source,
                })
        })
        .sum()
}

/// [`train`], calling `on_bytes` with the number of input bytes read so far
/// (about every megabyte) so that a caller can draw progress.
pub fn train_with_progress(
    config: &TrainConfig,
    inputs: &[PathBuf],
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Trained, TokenizeError> {
    let start = Instant::now();
    let files = expand_inputs(inputs)?;
    let describe_inputs = || {
        inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if files.is_empty() {
        return Err(TokenizeError::EmptyCorpus {
            inputs: describe_inputs(),
        });
    }
    let mut specials = config.special_tokens.clone();
    if let Some(unk) = unk_token(config.kind).filter(|u| !specials.iter().any(|s| s == u)) {
        specials.push(unk.to_owned());
    }
    let added: Vec<AddedToken> = specials
        .iter()
        .map(|s| AddedToken::from(s.clone(), true))
        .collect();
    if config.kind == TokenizerKind::Bpe {
        let alphabet = ByteLevel::alphabet().len() + specials.len();
        if (config.vocab_size as usize) < alphabet {
            return Err(TokenizeError::VocabTooSmall {
                vocab_size: config.vocab_size,
                alphabet,
                detail: format!(
                    "256 bytes of byte-level BPE plus {} special tokens",
                    specials.len()
                ),
            });
        }
    }

    let (mut tokenizer, mut trainer): (Tokenizer, Trainers) = match config.kind {
        TokenizerKind::Bpe => {
            let mut t = Tokenizer::new(ModelWrapper::BPE(BPE::default()));
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
                false, true, true,
            ))));
            t.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
            t.with_post_processor(Some(PostProcessorWrapper::ByteLevel(ByteLevel::new(
                false, true, true,
            ))));
            let trainer = BpeTrainerBuilder::new()
                .vocab_size(config.vocab_size as usize)
                .min_frequency(u64::from(config.min_frequency))
                .special_tokens(added)
                .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
                .show_progress(config.show_progress)
                .build();
            (t, Trainers::Upstream(trainer.into()))
        }
        TokenizerKind::Unigram => {
            let mut t = Tokenizer::new(ModelWrapper::Unigram(Unigram::default()));
            t.with_normalizer(Some(NormalizerWrapper::NFKC(NFKC)))
                .map_err(|e| TokenizeError::library("train", e))?;
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::Metaspace(Metaspace::new(
                '\u{2581}',
                PrependScheme::Always,
                true,
            ))));
            t.with_decoder(Some(DecoderWrapper::Metaspace(Metaspace::new(
                '\u{2581}',
                PrependScheme::Always,
                true,
            ))));
            let trainer = unigram::DeterministicUnigram::new(
                config.vocab_size as usize,
                added,
                unk_token(config.kind).unwrap_or("<unk>"),
                config.show_progress,
            );
            (t, Trainers::Unigram(trainer))
        }
        TokenizerKind::Wordpiece => {
            let mut t = Tokenizer::new(ModelWrapper::WordPiece(WordPiece::default()));
            t.with_normalizer(Some(NormalizerWrapper::BertNormalizer(
                BertNormalizer::new(true, true, None, false),
            )))
            .map_err(|e| TokenizeError::library("train", e))?;
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::BertPreTokenizer(
                BertPreTokenizer,
            )));
            t.with_decoder(Some(DecoderWrapper::WordPiece(
                tokenizers::decoders::wordpiece::WordPiece::default(),
            )));
            let trainer = wordpiece::DeterministicWordPiece::new(
                config.vocab_size as usize,
                u64::from(config.min_frequency),
                added,
                config.show_progress,
            );
            (t, Trainers::WordPiece(trainer))
        }
        TokenizerKind::Wordlevel => {
            let model = WordLevel::builder()
                .unk_token("<unk>".to_owned())
                .build()
                .map_err(|e| TokenizeError::library("train", e))?;
            let mut t = Tokenizer::new(ModelWrapper::WordLevel(model));
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::Whitespace(Whitespace)));
            let trainer = WordLevelTrainerBuilder::default()
                .vocab_size(config.vocab_size as usize)
                .min_frequency(u64::from(config.min_frequency))
                .special_tokens(added)
                .show_progress(config.show_progress)
                .build()
                .map_err(|e| TokenizeError::library("train", e))?;
            (t, Trainers::Upstream(trainer.into()))
        }
    };

    let count_alphabet = matches!(
        config.kind,
        TokenizerKind::Unigram | TokenizerKind::Wordpiece
    );
    let (reader, state) =
        CorpusReader::new(files, &config.text_field, config.on_error, count_alphabet);
    let reader = reader.with_progress(on_bytes);
    let trained = tokenizer.train(&mut trainer, reader).map(|_| ());
    let mut st = state.lock().expect("reader state lock");
    if let Some(err) = st.error.take() {
        return Err(err);
    }
    trained.map_err(|e| TokenizeError::library("train", e))?;
    if st.documents == 0 {
        return Err(TokenizeError::EmptyCorpus {
            inputs: describe_inputs(),
        });
    }
    let alphabet_size = st.alphabet_size();
    if count_alphabet && alphabet_size + specials.len() > config.vocab_size as usize {
        return Err(TokenizeError::VocabTooSmall {
            vocab_size: config.vocab_size,
            alphabet: alphabet_size + specials.len(),
            detail: format!(
                "{alphabet_size} distinct characters in the corpus plus {} special tokens",
                specials.len()
            ),
        });
    }
    let json = tokenizer
        .to_string(true)
        .map_err(|e| TokenizeError::library("save", e))?;
    let tokenizer = HfTokenizer::from_inner(tokenizer);
    let manifest = Manifest {
        schema_version: 1,
        codex_version: env!("CARGO_PKG_VERSION").to_owned(),
        kind: kind_name(config.kind).to_owned(),
        vocab_size_requested: config.vocab_size,
        vocab_size: tokenizer.vocab_size(),
        min_frequency: config.min_frequency,
        special_tokens: specials,
        seed: config.seed,
        reproducible: true,
        alphabet_size: if count_alphabet { alphabet_size } else { 0 },
        tokenizer_file: "tokenizer.json".to_owned(),
        tokenizer_blake3: Digest::of(json.as_bytes()),
        inputs: std::mem::take(&mut st.records),
        documents: st.documents,
        libraries: [("tokenizers".to_owned(), TOKENIZERS_VERSION.to_owned())].into(),
        // Never a credential in a file: the command line may carry one.
        command_line: codex_core::redact::redact_args(config.command_line.clone()),
        duration_secs: start.elapsed().as_secs_f64(),
    };
    Ok(Trained {
        tokenizer,
        json,
        manifest,
        diagnostics: std::mem::take(&mut st.diagnostics),
    })
}
