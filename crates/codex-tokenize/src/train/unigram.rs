//! codex's own Unigram trainer: the unigram language model of Kudo (2018), trained
//! the way SentencePiece trains it, with a result that depends only on the corpus
//! and the settings.
//!
//! The steps are SentencePiece's: seed pieces are every character plus the most
//! frequent substrings (from a suffix array, scored by occurrences × length);
//! then rounds of EM (the E step sums each piece's expected count over the
//! lattices of all words; the M step drops pieces expected less than half a time
//! and rescores the rest with the Bayesian digamma update) alternate with
//! pruning, which drops the pieces whose removal costs the least likelihood,
//! until the vocabulary is within 10% of its target; the final vocabulary keeps
//! every character of the corpus and then the best-scored pieces.
//!
//! What makes it reproducible where the upstream trainer is not: words arrive
//! sorted (not in a hash map's order); every sort has a total order; the
//! parallel steps split the words into [`PARTS`] fixed parts whatever the number
//! of threads and add the parts' floating-point sums in order.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use tokenizers::models::ModelWrapper;
use tokenizers::models::unigram::Unigram;
use tokenizers::{AddedToken, Trainer};

use super::words::count_words;

/// Score of an unknown character relative to the worst piece.
const UNK_PENALTY: f64 = 10.0;
/// Fixed number of parts the words are split into for the parallel steps, so
/// that their sums are added in the same order on any number of threads.
const PARTS: usize = 16;
/// Pieces expected fewer times than this are dropped by the M step.
const MIN_EXPECTED: f64 = 0.5;
/// Spacing of the scores given to required characters the model lost.
const REQUIRED_PENALTY_STEP: f64 = 1e-4;
/// The node id of an unknown character in a lattice.
const UNK: u32 = u32::MAX;

/// Unigram training settings (SentencePiece's defaults).
#[derive(Debug, Clone)]
pub(crate) struct UnigramSettings {
    /// Pieces wanted in the final vocabulary, special tokens excluded.
    pub pieces: usize,
    /// Longest piece, in characters.
    pub max_piece_length: usize,
    /// Share of the pieces each pruning round keeps.
    pub shrinking_factor: f64,
    /// EM iterations between prunings.
    pub sub_iterations: usize,
    /// Most seed pieces.
    pub seed_size: usize,
}

impl UnigramSettings {
    pub(crate) fn new(pieces: usize) -> Self {
        Self {
            pieces,
            max_piece_length: 16,
            shrinking_factor: 0.75,
            sub_iterations: 2,
            seed_size: 1_000_000,
        }
    }
}

type Piece = (String, f64);

/// A byte trie over the pieces, for finding every piece that starts a string.
struct Trie {
    /// Per node: sorted children (byte, node) and the piece ending here.
    children: Vec<Vec<(u8, u32)>>,
    piece: Vec<u32>,
}

impl Trie {
    fn new(pieces: &[Piece]) -> Self {
        let mut trie = Self {
            children: vec![Vec::new()],
            piece: vec![UNK],
        };
        for (id, (text, _)) in pieces.iter().enumerate() {
            let mut node = 0usize;
            for &b in text.as_bytes() {
                let kids = &trie.children[node];
                node = match kids.binary_search_by_key(&b, |k| k.0) {
                    Ok(k) => kids[k].1 as usize,
                    Err(k) => {
                        let next = trie.piece.len();
                        trie.children[node].insert(k, (b, next as u32));
                        trie.children.push(Vec::new());
                        trie.piece.push(UNK);
                        next
                    }
                };
            }
            trie.piece[node] = id as u32;
        }
        trie
    }

    /// Calls `found(length_in_bytes, piece)` for every piece that is a prefix of `bytes`.
    #[inline]
    fn prefixes(&self, bytes: &[u8], mut found: impl FnMut(usize, u32)) {
        let mut node = 0usize;
        for (i, &b) in bytes.iter().enumerate() {
            let kids = &self.children[node];
            match kids.binary_search_by_key(&b, |k| k.0) {
                Ok(k) => node = kids[k].1 as usize,
                Err(_) => return,
            }
            let piece = self.piece[node];
            if piece != UNK {
                found(i + 1, piece);
            }
        }
    }
}

/// One node of a word's lattice: a piece (or an unknown character) over bytes `start..end`.
#[derive(Debug, Clone, Copy)]
struct Node {
    start: u32,
    end: u32,
    id: u32,
    score: f64,
}

/// Buffers reused across the words of one part.
#[derive(Default)]
struct Scratch {
    nodes: Vec<Node>,
    forward: Vec<f64>,
    backward: Vec<f64>,
    back: Vec<u32>,
    path: Vec<u32>,
}

/// `ln(e^a + e^b)`, exact where one side is `-inf`.
#[inline]
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY || hi - lo > 50.0 {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// The pieces of one EM round with their lookup structure.
struct Model<'a> {
    pieces: &'a [Piece],
    trie: Trie,
    unk_score: f64,
}

impl<'a> Model<'a> {
    fn new(pieces: &'a [Piece]) -> Self {
        let min = pieces.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        Self {
            pieces,
            trie: Trie::new(pieces),
            unk_score: if min.is_finite() { min } else { 0.0 } - UNK_PENALTY,
        }
    }

    /// Fills `nodes` with the lattice of `word`, ordered by start: every piece
    /// at every character, and an unknown node where no piece covers a character.
    fn lattice(&self, word: &str, nodes: &mut Vec<Node>) {
        nodes.clear();
        let bytes = word.as_bytes();
        for (pos, c) in word.char_indices() {
            let width = c.len_utf8();
            let mut single = false;
            self.trie.prefixes(&bytes[pos..], |len, id| {
                single |= len == width;
                nodes.push(Node {
                    start: pos as u32,
                    end: (pos + len) as u32,
                    id,
                    score: self.pieces[id as usize].1,
                });
            });
            if !single {
                nodes.push(Node {
                    start: pos as u32,
                    end: (pos + width) as u32,
                    id: UNK,
                    score: self.unk_score,
                });
            }
        }
    }

    /// Adds `freq` × each piece's posterior count in `word` to `expected`.
    fn add_marginals(&self, word: &str, freq: f64, expected: &mut [f64], s: &mut Scratch) {
        self.lattice(word, &mut s.nodes);
        let n = word.len();
        s.forward.clear();
        s.forward.resize(n + 1, f64::NEG_INFINITY);
        s.backward.clear();
        s.backward.resize(n + 1, f64::NEG_INFINITY);
        s.forward[0] = 0.0;
        s.backward[n] = 0.0;
        for node in &s.nodes {
            let (a, b) = (node.start as usize, node.end as usize);
            s.forward[b] = log_add(s.forward[b], s.forward[a] + node.score);
        }
        for node in s.nodes.iter().rev() {
            let (a, b) = (node.start as usize, node.end as usize);
            s.backward[a] = log_add(s.backward[a], node.score + s.backward[b]);
        }
        let z = s.forward[n];
        for node in &s.nodes {
            if node.id != UNK {
                let (a, b) = (node.start as usize, node.end as usize);
                let p = (s.forward[a] + node.score + s.backward[b] - z).exp();
                expected[node.id as usize] += freq * p;
            }
        }
    }

    /// The best segmentation of the lattice in `s.nodes` (over `n` bytes) into
    /// `s.path` as node indices, leaving out node `skip`; false if there is none.
    fn viterbi(s: &mut Scratch, n: usize, skip: Option<usize>) -> bool {
        s.forward.clear();
        s.forward.resize(n + 1, f64::NEG_INFINITY);
        s.back.clear();
        s.back.resize(n + 1, u32::MAX);
        s.forward[0] = 0.0;
        for (k, node) in s.nodes.iter().enumerate() {
            if Some(k) == skip {
                continue;
            }
            let (a, b) = (node.start as usize, node.end as usize);
            let v = s.forward[a] + node.score;
            if v > s.forward[b] {
                s.forward[b] = v;
                s.back[b] = k as u32;
            }
        }
        s.path.clear();
        if s.forward[n] == f64::NEG_INFINITY {
            return false;
        }
        let mut pos = n;
        while pos > 0 {
            let k = s.back[pos];
            s.path.push(k);
            pos = s.nodes[k as usize].start as usize;
        }
        s.path.reverse();
        true
    }
}

/// Splits `words` into at most [`PARTS`] consecutive parts.
fn parts<T>(words: &[T]) -> std::slice::Chunks<'_, T> {
    words.chunks(words.len().div_ceil(PARTS).max(1))
}

/// Adds per-part vectors in part order.
fn add_in_order(parts: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    let mut total = vec![0.0; len];
    for part in parts {
        for (t, x) in total.iter_mut().zip(part) {
            *t += x;
        }
    }
    total
}

/// The seed pieces: every character (by frequency) and the most frequent
/// substrings by occurrences × length, scored as log probabilities.
fn seed_pieces(
    words: &[(String, u64)],
    settings: &UnigramSettings,
) -> tokenizers::Result<Vec<Piece>> {
    let mut flat = String::with_capacity(words.iter().map(|w| w.0.len() + 1).sum());
    let mut chars = FxHashMap::<char, u64>::default();
    for (word, n) in words {
        if word.is_empty() {
            continue;
        }
        flat.push_str(word);
        flat.push('\0');
        for c in word.chars().filter(|&c| c != '\0') {
            *chars.entry(c).or_default() += n;
        }
    }
    let mut seeds: Vec<(String, f64)> = by_frequency(chars)
        .into_iter()
        .map(|(c, n)| (c.to_string(), n as f64))
        .collect();
    if !flat.is_empty() {
        let suffix = esaxx_rs::suffix(&flat).map_err(|e| format!("suffix array: {e:?}"))?;
        let mut substrings: Vec<(u64, &[char])> = suffix
            .iter()
            .filter(|(s, _)| {
                s.len() > 1 && s.len() <= settings.max_piece_length && !s.contains(&'\0')
            })
            .map(|(s, freq)| (u64::from(freq) * s.len() as u64, s))
            .collect();
        substrings.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let room = settings.seed_size.saturating_sub(seeds.len());
        seeds.extend(
            substrings
                .into_iter()
                .take(room)
                .map(|(score, s)| (s.iter().collect(), score as f64)),
        );
    }
    let logsum = seeds.iter().map(|p| p.1).sum::<f64>().ln();
    for piece in &mut seeds {
        piece.1 = piece.1.ln() - logsum;
    }
    Ok(seeds)
}

/// Characters by decreasing count, then by code point.
fn by_frequency(chars: FxHashMap<char, u64>) -> Vec<(char, u64)> {
    let mut v: Vec<(char, u64)> = chars.into_iter().collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// SentencePiece's approximation of the digamma function.
fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 7.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    x -= 0.5;
    let xx = 1.0 / x;
    let xx2 = xx * xx;
    let xx4 = xx2 * xx2;
    result + x.ln() + xx2 / 24.0 - 7.0 / 960.0 * xx4 + 31.0 / 8064.0 * xx4 * xx2
        - 127.0 / 30720.0 * xx4 * xx4
}

/// The E step: each piece's expected count over all words.
fn expected_counts(model: &Model<'_>, words: &[(String, u64)]) -> Vec<f64> {
    let len = model.pieces.len();
    let per_part: Vec<Vec<f64>> = parts(words)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|part| {
            let mut expected = vec![0.0; len];
            let mut s = Scratch::default();
            for (word, n) in part {
                model.add_marginals(word, *n as f64, &mut expected, &mut s);
            }
            expected
        })
        .collect();
    add_in_order(per_part, len)
}

/// The M step: drops rarely expected pieces and rescores the rest.
fn maximize(pieces: &[Piece], expected: &[f64]) -> Vec<Piece> {
    let kept: Vec<(&str, f64)> = pieces
        .iter()
        .zip(expected)
        .filter(|(_, e)| **e >= MIN_EXPECTED)
        .map(|((p, _), e)| (p.as_str(), *e))
        .collect();
    let total: f64 = kept.iter().map(|k| k.1).sum();
    let log_total = digamma(total);
    kept.into_iter()
        .map(|(p, e)| (p.to_owned(), digamma(e) - log_total))
        .collect()
}

/// What pruning may do with a piece, from the segmentations of the piece itself.
enum Fate {
    /// Its own best segmentation splits it: it can go.
    Drop,
    /// No other segmentation (or only one through an unknown character): it stays.
    Keep,
    /// Replaceable by these pieces (its second-best segmentation).
    Replace(Vec<u32>),
}

/// One pruning round: keeps the pieces whose removal would cost the most likelihood.
fn prune(model: &Model<'_>, words: &[(String, u64)], desired: usize, shrink: f64) -> Vec<Piece> {
    let pieces = model.pieces;
    let fates: Vec<Fate> = pieces
        .par_iter()
        .enumerate()
        .map_init(Scratch::default, |s, (id, (text, _))| {
            model.lattice(text, &mut s.nodes);
            let n = text.len();
            if !Model::viterbi(s, n, None) || s.path.len() >= 2 {
                return if s.path.len() >= 2 {
                    Fate::Drop
                } else {
                    Fate::Keep
                };
            }
            let whole = s.path[0] as usize;
            debug_assert_eq!(s.nodes[whole].id as usize, id);
            if !Model::viterbi(s, n, Some(whole)) {
                return Fate::Keep;
            }
            let ids: Vec<u32> = s.path.iter().map(|&k| s.nodes[k as usize].id).collect();
            if ids.contains(&UNK) {
                Fate::Keep
            } else {
                Fate::Replace(ids)
            }
        })
        .collect();

    let per_part: Vec<Vec<f64>> = parts(words)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|part| {
            let mut freq = vec![0.0; pieces.len()];
            let mut s = Scratch::default();
            for (word, n) in part {
                model.lattice(word, &mut s.nodes);
                if Model::viterbi(&mut s, word.len(), None) {
                    for &k in &s.path {
                        let id = s.nodes[k as usize].id;
                        if id != UNK {
                            freq[id as usize] += *n as f64;
                        }
                    }
                }
            }
            freq
        })
        .collect();
    let freq = add_in_order(per_part, pieces.len());
    let all_words: f64 = words.iter().map(|w| w.1 as f64).sum();
    let sum: f64 = freq.iter().sum();
    let log_sum = sum.ln();

    let mut kept: Vec<Piece> = Vec::new();
    let mut candidates: Vec<(usize, f64)> = Vec::new();
    for (id, fate) in fates.iter().enumerate() {
        if freq[id] == 0.0 {
            continue;
        }
        match fate {
            Fate::Drop => {}
            Fate::Keep => kept.push(pieces[id].clone()),
            Fate::Replace(alternatives) => {
                // The share of words this piece occurs in, and the likelihood
                // lost if its count moved to its alternatives.
                let share = freq[id] / all_words;
                let log_p = freq[id].ln() - log_sum;
                let log_sum_alt = (sum + freq[id] * (alternatives.len() as f64 - 1.0)).ln();
                let log_p_alt: f64 = alternatives
                    .iter()
                    .map(|&a| (freq[a as usize] + freq[id]).ln() - log_sum_alt)
                    .sum();
                candidates.push((id, share * (log_p - log_p_alt)));
            }
        }
    }
    let target = desired.max((pieces.len() as f64 * shrink) as usize);
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for (id, _) in candidates {
        if kept.len() >= target {
            break;
        }
        kept.push(pieces[id].clone());
    }
    kept
}

/// The final vocabulary: every required character, then the best-scored
/// pieces up to `size`, ordered by score (ties by piece).
fn finalize(
    pieces: &[Piece],
    required: &[(char, u64)],
    size: usize,
    reserved: &FxHashSet<&str>,
) -> Vec<Piece> {
    let scores: FxHashMap<&str, f64> = pieces.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let min = pieces.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let min = if min.is_finite() { min } else { 0.0 };
    let mut chosen: Vec<Piece> = Vec::with_capacity(size);
    let mut seen: FxHashSet<String> = FxHashSet::default();
    let mut penalty = 0.0;
    for (c, _) in required {
        let text = c.to_string();
        if reserved.contains(text.as_str()) {
            continue;
        }
        let score = scores.get(text.as_str()).copied().unwrap_or_else(|| {
            let s = min + penalty;
            penalty += REQUIRED_PENALTY_STEP;
            s
        });
        seen.insert(text.clone());
        chosen.push((text, score));
    }
    let mut ranked: Vec<&Piece> = pieces.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for piece in ranked {
        if chosen.len() >= size {
            break;
        }
        if !seen.contains(&piece.0) && !reserved.contains(piece.0.as_str()) {
            seen.insert(piece.0.clone());
            chosen.push(piece.clone());
        }
    }
    chosen.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    chosen
}

/// Trains the pieces (special tokens excluded) of a Unigram model on counted words.
pub(crate) fn train_pieces(
    words: &[(String, u64)],
    settings: &UnigramSettings,
    reserved: &FxHashSet<&str>,
) -> tokenizers::Result<Vec<Piece>> {
    let mut chars = FxHashMap::<char, u64>::default();
    for (word, n) in words {
        for c in word.chars() {
            *chars.entry(c).or_default() += n;
        }
    }
    let required = by_frequency(chars);
    let mut pieces = seed_pieces(words, settings)?;
    let desired = settings.pieces * 11 / 10;
    loop {
        for _ in 0..settings.sub_iterations {
            let model = Model::new(&pieces);
            let expected = expected_counts(&model, words);
            pieces = maximize(&pieces, &expected);
        }
        if pieces.len() <= desired {
            break;
        }
        let model = Model::new(&pieces);
        let pruned = prune(&model, words, desired, settings.shrinking_factor);
        if pruned.len() >= pieces.len() {
            break;
        }
        pieces = pruned;
    }
    Ok(finalize(&pieces, &required, settings.pieces, reserved))
}

/// The Unigram trainer codex uses: special tokens first (score 0), then the
/// trained pieces by decreasing score.
pub(crate) struct DeterministicUnigram {
    vocab_size: usize,
    special_tokens: Vec<AddedToken>,
    unk_token: String,
    show_progress: bool,
    words: Vec<(String, u64)>,
}

impl DeterministicUnigram {
    /// `unk_token` must be one of `special_tokens`.
    pub(crate) fn new(
        vocab_size: usize,
        special_tokens: Vec<AddedToken>,
        unk_token: &str,
        show_progress: bool,
    ) -> Self {
        Self {
            vocab_size,
            special_tokens,
            unk_token: unk_token.to_owned(),
            show_progress,
            words: Vec::new(),
        }
    }
}

impl Trainer for DeterministicUnigram {
    type Model = ModelWrapper;

    fn should_show_progress(&self) -> bool {
        self.show_progress
    }

    fn train(&self, model: &mut ModelWrapper) -> tokenizers::Result<Vec<AddedToken>> {
        let unk_id = self
            .special_tokens
            .iter()
            .position(|t| t.content == self.unk_token)
            .ok_or("the unknown token is not among the special tokens")?;
        let reserved: FxHashSet<&str> = self
            .special_tokens
            .iter()
            .map(|t| t.content.as_str())
            .collect();
        let settings =
            UnigramSettings::new(self.vocab_size.saturating_sub(self.special_tokens.len()));
        let pieces = train_pieces(&self.words, &settings, &reserved)?;
        let vocab: Vec<Piece> = self
            .special_tokens
            .iter()
            .map(|t| (t.content.clone(), 0.0))
            .chain(pieces)
            .collect();
        *model = ModelWrapper::Unigram(Unigram::from(vocab, Some(unk_id), false)?);
        Ok(self.special_tokens.clone())
    }

    fn feed<I, S, F>(&mut self, iterator: I, process: F) -> tokenizers::Result<()>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
        F: Fn(&str) -> tokenizers::Result<Vec<String>> + Sync,
    {
        self.words = count_words(iterator, process)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, u64)> {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for w in text.split_whitespace() {
            *counts.entry(format!("\u{2581}{w}")).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    #[test]
    fn marginals_of_a_word_sum_to_its_length_in_expectation() {
        let pieces: Vec<Piece> = vec![("a".into(), -1.0), ("b".into(), -1.5), ("ab".into(), -1.2)];
        let model = Model::new(&pieces);
        let mut expected = vec![0.0; 3];
        model.add_marginals("ab", 1.0, &mut expected, &mut Scratch::default());
        // Two segmentations: [ab] with e^-1.2, [a, b] with e^-2.5.
        let (p_ab, p_split) = ((-1.2f64).exp(), (-2.5f64).exp());
        let z = p_ab + p_split;
        assert!((expected[2] - p_ab / z).abs() < 1e-12);
        assert!((expected[0] - p_split / z).abs() < 1e-12);
        assert!((expected[1] - p_split / z).abs() < 1e-12);
    }

    #[test]
    fn viterbi_prefers_the_best_path_and_can_leave_a_node_out() {
        let pieces: Vec<Piece> = vec![("a".into(), -1.0), ("b".into(), -1.5), ("ab".into(), -1.2)];
        let model = Model::new(&pieces);
        let mut s = Scratch::default();
        model.lattice("ab", &mut s.nodes);
        assert!(Model::viterbi(&mut s, 2, None));
        let ids: Vec<u32> = s.path.iter().map(|&k| s.nodes[k as usize].id).collect();
        assert_eq!(ids, [2]);
        let whole = s.path[0] as usize;
        assert!(Model::viterbi(&mut s, 2, Some(whole)));
        let ids: Vec<u32> = s.path.iter().map(|&k| s.nodes[k as usize].id).collect();
        assert_eq!(ids, [0, 1]);
    }

    #[test]
    fn unknown_characters_get_a_node_below_every_piece() {
        let pieces: Vec<Piece> = vec![("a".into(), -2.0)];
        let model = Model::new(&pieces);
        let mut nodes = Vec::new();
        model.lattice("aé", &mut nodes);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].id, UNK);
        assert_eq!((nodes[1].start, nodes[1].end), (1, 3));
        assert!((nodes[1].score - (-12.0)).abs() < 1e-12);
    }

    #[test]
    fn trains_the_requested_size_with_every_character_and_frequent_words() {
        // Words made of a few syllables, so that many substrings recur.
        let syllables = ["ka", "to", "ri", "men", "sa", "lu", "pe", "dor"];
        let mut text = String::new();
        for i in 0..400usize {
            let n = 1 + i % 3;
            for k in 0..n {
                text.push_str(syllables[(i * 7 + k * 3 + i / 5) % syllables.len()]);
            }
            text.push(' ');
        }
        text.push_str("the zebra");
        let w = words(&text);
        let reserved = FxHashSet::default();
        let pieces = train_pieces(&w, &UnigramSettings::new(40), &reserved).unwrap();
        assert_eq!(pieces.len(), 40);
        let set: FxHashSet<&str> = pieces.iter().map(|p| p.0.as_str()).collect();
        for c in text
            .chars()
            .filter(|c| !c.is_whitespace())
            .chain(['\u{2581}'])
        {
            assert!(set.contains(c.to_string().as_str()), "{c} missing");
        }
        assert!(set.contains("\u{2581}ka") || set.contains("ka"), "{set:?}");
        assert!(pieces.windows(2).all(|p| p[0].1 >= p[1].1));
        // Same input, same pieces, same scores to the bit.
        let again = train_pieces(&w, &UnigramSettings::new(40), &reserved).unwrap();
        assert_eq!(
            pieces
                .iter()
                .map(|p| (&p.0, p.1.to_bits()))
                .collect::<Vec<_>>(),
            again
                .iter()
                .map(|p| (&p.0, p.1.to_bits()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn no_words_and_odd_words_train_without_panicking() {
        let reserved = FxHashSet::default();
        let settings = UnigramSettings::new(10);
        assert!(train_pieces(&[], &settings, &reserved).unwrap().is_empty());
        let odd = vec![
            (String::new(), 3),
            ("a\0b".to_owned(), 2),
            ("\u{2581}x".to_owned(), 1),
        ];
        let pieces = train_pieces(&odd, &settings, &reserved).unwrap();
        assert!(pieces.iter().any(|p| p.0 == "\0"));
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(10) = H_9 − γ.
        let gamma = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + gamma).abs() < 1e-9);
        let h9: f64 = (1..=9).map(|k| 1.0 / k as f64).sum();
        assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-9);
    }
}
