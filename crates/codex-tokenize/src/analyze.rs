//! Corpus statistics and round-trip checks for `codex tokenizer stats | validate`.

use std::path::PathBuf;

use codex_core::Diagnostic;
use codex_core::config::OnError;
use serde::Serialize;

use crate::AnyTokenizer;
use crate::error::TokenizeError;
use crate::train::{CorpusReader, expand_inputs};

/// Documents encoded per parallel batch.
const BATCH: usize = 1024;

/// What `codex tokenizer stats` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorpusStats {
    /// Vocabulary size of the tokenizer.
    pub vocab_size: usize,
    /// Documents encoded.
    pub documents: u64,
    /// UTF-8 bytes of those documents.
    pub bytes: u64,
    /// Characters of those documents.
    pub chars: u64,
    /// Tokens produced (no special tokens added).
    pub tokens: u64,
    /// Bytes per token.
    pub bytes_per_token: f64,
    /// Characters per token.
    pub chars_per_token: f64,
    /// Tokens that are the unknown token.
    pub unknown_tokens: u64,
    /// Unknown tokens over all tokens.
    pub unknown_rate: f64,
    /// Documents by token count: `(upper bound inclusive, count)` with power-of-two buckets.
    pub length_histogram: Vec<(u64, u64)>,
    /// Lines skipped as malformed.
    pub diagnostics: Vec<Diagnostic>,
}

/// One document whose decoded encoding differs from the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Index of the document among those checked.
    pub document: u64,
    /// The original text.
    pub original: String,
    /// `decode(encode(original))`.
    pub decoded: String,
    /// Character index of the first difference.
    pub first_difference: usize,
}

/// What `codex tokenizer validate` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundTrip {
    /// Documents checked.
    pub checked: u64,
    /// Documents that did not round-trip.
    pub failed: u64,
    /// The first mismatches (at most the requested number).
    pub mismatches: Vec<Mismatch>,
    /// Lines skipped as malformed.
    pub diagnostics: Vec<Diagnostic>,
}

fn reader(
    inputs: &[PathBuf],
    text_field: &str,
) -> Result<(CorpusReader<'static>, crate::train::SharedState), TokenizeError> {
    let files = expand_inputs(inputs)?;
    Ok(CorpusReader::new(files, text_field, OnError::Skip, false))
}

fn finish(state: &crate::train::SharedState) -> Result<Vec<Diagnostic>, TokenizeError> {
    let mut st = state.lock().expect("reader state lock");
    match st.error.take() {
        Some(e) => Err(e),
        None => Ok(std::mem::take(&mut st.diagnostics)),
    }
}

fn bucket(n: usize) -> u64 {
    (n.max(1) as u64).next_power_of_two()
}

impl CorpusStats {
    /// Vocabulary, sizes, rates and the length histogram as `key value` lines.
    pub fn to_text(&self) -> String {
        let s = self;
        let mut r = codex_core::TextReport::new(17);
        r.kv("vocabulary", s.vocab_size)
            .kv("documents", s.documents)
            .kv("bytes", s.bytes)
            .kv("tokens", s.tokens)
            .kv("bytes/token", format_args!("{:.3}", s.bytes_per_token))
            .kv("chars/token", format_args!("{:.3}", s.chars_per_token))
            .kv(
                "unknown tokens",
                format_args!("{} ({:.4}%)", s.unknown_tokens, s.unknown_rate * 100.0),
            )
            .line("tokens per document:");
        r.histogram(&s.length_histogram);
        for d in &s.diagnostics {
            r.line(d);
        }
        r.finish()
    }
}

impl RoundTrip {
    /// How many documents round-trip, and where the first mismatches differ.
    pub fn to_text(&self) -> String {
        let r = self;
        let mut out = format!(
            "{} of {} documents round-trip exactly\n",
            r.checked - r.failed,
            r.checked
        );
        for m in &r.mismatches {
            let show = |s: &str| {
                let chars: Vec<char> = s.chars().collect();
                let from = m.first_difference.saturating_sub(20);
                let to = (m.first_difference + 20).min(chars.len());
                format!("{:?}", chars[from.min(to)..to].iter().collect::<String>())
            };
            out.push_str(&format!(
                "document {} differs at character {}:\n  original {}\n  decoded  {}\n",
                m.document,
                m.first_difference,
                show(&m.original),
                show(&m.decoded)
            ));
        }
        out
    }
}

/// Encodes every document of `inputs` and summarises how the tokenizer fits the corpus.
pub fn corpus_stats(
    tokenizer: &AnyTokenizer,
    inputs: &[PathBuf],
    text_field: &str,
) -> Result<CorpusStats, TokenizeError> {
    let (docs, state) = reader(inputs, text_field)?;
    let unk = tokenizer.unk_id();
    let mut s = CorpusStats {
        vocab_size: tokenizer.vocab_size(),
        documents: 0,
        bytes: 0,
        chars: 0,
        tokens: 0,
        bytes_per_token: 0.0,
        chars_per_token: 0.0,
        unknown_tokens: 0,
        unknown_rate: 0.0,
        length_histogram: Vec::new(),
        diagnostics: Vec::new(),
    };
    let mut histogram = std::collections::BTreeMap::<u64, u64>::new();
    let mut batch: Vec<String> = Vec::with_capacity(BATCH);
    let mut flush = |batch: &mut Vec<String>, s: &mut CorpusStats| -> Result<(), TokenizeError> {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        for (doc, ids) in batch.iter().zip(tokenizer.encode_batch(&refs, false)?) {
            s.documents += 1;
            s.bytes += doc.len() as u64;
            s.chars += doc.chars().count() as u64;
            s.tokens += ids.len() as u64;
            s.unknown_tokens += ids.iter().filter(|&&i| Some(i) == unk).count() as u64;
            *histogram.entry(bucket(ids.len())).or_default() += 1;
        }
        batch.clear();
        Ok(())
    };
    for doc in docs {
        batch.push(doc);
        if batch.len() == BATCH {
            flush(&mut batch, &mut s)?;
        }
    }
    flush(&mut batch, &mut s)?;
    s.diagnostics = finish(&state)?;
    let per = |x: u64| {
        if s.tokens == 0 {
            0.0
        } else {
            x as f64 / s.tokens as f64
        }
    };
    s.bytes_per_token = per(s.bytes);
    s.chars_per_token = per(s.chars);
    s.unknown_rate = per(s.unknown_tokens);
    s.length_histogram = histogram.into_iter().collect();
    Ok(s)
}

/// Checks `decode(encode(x)) == x` on up to `sample` documents, keeping the first
/// `keep` mismatches.
pub fn round_trip(
    tokenizer: &AnyTokenizer,
    inputs: &[PathBuf],
    text_field: &str,
    sample: u64,
    keep: usize,
) -> Result<RoundTrip, TokenizeError> {
    let (docs, state) = reader(inputs, text_field)?;
    let mut report = RoundTrip {
        checked: 0,
        failed: 0,
        mismatches: Vec::new(),
        diagnostics: Vec::new(),
    };
    for doc in docs.take(usize::try_from(sample).unwrap_or(usize::MAX)) {
        let ids = tokenizer.encode(&doc, false)?;
        let decoded = tokenizer.decode(&ids, true)?;
        if decoded != doc {
            report.failed += 1;
            if report.mismatches.len() < keep {
                let first_difference = doc
                    .chars()
                    .zip(decoded.chars())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| doc.chars().count().min(decoded.chars().count()));
                report.mismatches.push(Mismatch {
                    document: report.checked,
                    original: doc.clone(),
                    decoded,
                    first_difference,
                });
            }
        }
        report.checked += 1;
    }
    report.diagnostics = finish(&state)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!([0, 1, 2, 3, 5, 9, 64].map(bucket), [1, 1, 2, 4, 8, 16, 64]);
    }
}
