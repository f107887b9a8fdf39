//! SentencePiece `.model` files in pure Rust: decode the `ModelProto` and encode
//! and decode exactly as Google's library does (Unigram and BPE, precompiled
//! normalizer, whitespace handling, byte fallback, control and user-defined symbols).

mod darts;
mod export;
mod normalizer;
mod proto;
mod trie;

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use normalizer::{Normalizer, SPACE_SYMBOL};
use proto::{ModelType, PieceType};
use trie::{ByteTrie, TrieBuilder};

use crate::error::TokenizeError;

pub use export::unigram_to_spm;

/// The best path ending at one byte position of the Unigram lattice.
#[derive(Debug, Clone, Copy)]
struct Best {
    id: u32,
    score: f32,
    starts_at: u32,
}

/// Buffers reused across encode calls on one thread.
#[derive(Debug, Default)]
struct Scratch {
    normalized: Vec<u8>,
    map: Vec<usize>,
    best: Vec<Best>,
    segments: Vec<(u32, u32, u32)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// One encoded piece: its id and the byte range of the input it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpmPiece {
    /// Vocabulary id.
    pub id: u32,
    /// Byte offsets in the original text.
    pub offsets: (usize, usize),
}

/// A SentencePiece model loaded from a `.model` file.
#[derive(Debug, Clone)]
pub struct SpmModel {
    pieces: Vec<proto::Piece>,
    model_type: ModelType,
    byte_fallback: bool,
    unk_surface: String,
    normalizer_name: String,
    normalizer: Normalizer,
    /// NORMAL, USER_DEFINED and UNUSED pieces (SentencePiece's `pieces_`).
    trie: ByteTrie,
    /// USER_DEFINED pieces only (SentencePiece's prefix matcher).
    user_defined: ByteTrie,
    /// Piece scores and types by id, kept flat for the lattice's inner loop.
    scores: Vec<f32>,
    kinds: Vec<PieceType>,
    /// `PieceToId`: reserved pieces (control, unknown, byte) win over the others.
    piece_to_id: HashMap<String, u32>,
    byte_ids: [Option<u32>; 256],
    unk_id: u32,
    min_score: f32,
    max_score: f32,
}

impl SpmModel {
    /// Loads a `.model` file; any problem names the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|message| TokenizeError::Load {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Builds a model from serialized `ModelProto` bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let proto = proto::decode(bytes).map_err(|e| {
            format!(
                "not a SentencePiece model: {} at byte {}",
                e.message, e.offset
            )
        })?;
        if !matches!(proto.model_type, ModelType::Unigram | ModelType::Bpe) {
            return Err(format!(
                "SentencePiece model type {:?} is not supported (only Unigram and BPE)",
                proto.model_type
            ));
        }
        let mut trie = TrieBuilder::new();
        let mut user_defined = TrieBuilder::new();
        let mut reserved: HashMap<String, u32> = HashMap::new();
        let mut normal: HashMap<String, u32> = HashMap::new();
        let mut byte_ids = [None; 256];
        let mut unk_id = None;
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN_POSITIVE);
        for (i, p) in proto.pieces.iter().enumerate() {
            let id = i as u32;
            if p.piece.is_empty() {
                return Err(format!("piece {id} is empty"));
            }
            match p.kind {
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused => {
                    if normal.insert(p.piece.clone(), id).is_some() {
                        return Err(format!("piece `{}` appears twice", p.piece));
                    }
                    trie.insert(p.piece.as_bytes(), id);
                    if p.kind == PieceType::UserDefined {
                        user_defined.insert(p.piece.as_bytes(), id);
                    }
                    if p.kind == PieceType::Normal {
                        min_score = min_score.min(p.score);
                        max_score = max_score.max(p.score);
                    }
                }
                PieceType::Unknown | PieceType::Control | PieceType::Byte => {
                    if reserved.insert(p.piece.clone(), id).is_some() {
                        return Err(format!("piece `{}` appears twice", p.piece));
                    }
                    if p.kind == PieceType::Unknown {
                        if unk_id.is_some() {
                            return Err("more than one unknown piece".into());
                        }
                        unk_id = Some(id);
                    }
                    if p.kind == PieceType::Byte {
                        let b = byte_piece_value(&p.piece).ok_or_else(|| {
                            format!(
                                "byte piece {id} `{}` is not of the form <0xXX> (two upper-case hex digits)",
                                p.piece
                            )
                        })?;
                        if let Some(first) = byte_ids[usize::from(b)].replace(id) {
                            return Err(format!(
                                "byte 0x{b:02X} has two byte pieces (ids {first} and {id})"
                            ));
                        }
                    }
                }
            }
        }
        let unk_id = unk_id.ok_or("the model has no unknown piece")?;
        let user_defined = user_defined.build();
        let normalizer = Normalizer::new(
            user_defined.clone(),
            &proto.precompiled_charsmap,
            proto.add_dummy_prefix,
            proto.remove_extra_whitespaces,
            proto.escape_whitespaces,
            proto.treat_whitespace_as_suffix,
        )?;
        let scores = proto.pieces.iter().map(|p| p.score).collect();
        let kinds = proto.pieces.iter().map(|p| p.kind).collect();
        if proto.byte_fallback && byte_ids.iter().any(Option::is_none) {
            return Err("byte_fallback is on but not all 256 byte pieces exist".into());
        }
        let mut piece_to_id = normal;
        piece_to_id.extend(reserved);
        Ok(Self {
            pieces: proto.pieces,
            model_type: proto.model_type,
            byte_fallback: proto.byte_fallback,
            unk_surface: proto.unk_surface,
            normalizer_name: proto.normalizer_name,
            normalizer,
            trie: trie.build(),
            user_defined,
            scores,
            kinds,
            piece_to_id,
            byte_ids,
            unk_id,
            min_score,
            max_score,
        })
    }

    /// `unigram` or `bpe`.
    pub fn model_type(&self) -> &'static str {
        match self.model_type {
            ModelType::Unigram => "unigram",
            _ => "bpe",
        }
    }

    /// Number of pieces.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// Whether unknown characters become byte pieces.
    pub fn byte_fallback(&self) -> bool {
        self.byte_fallback
    }

    /// The normalizer's name as recorded in the model (e.g. `nmt_nfkc`).
    pub fn normalizer_name(&self) -> &str {
        &self.normalizer_name
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The piece string of an id.
    pub fn id_to_piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(|p| p.piece.as_str())
    }

    /// The id of a piece string (`PieceToId`): unknown pieces give `None`.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.piece_to_id.get(piece).copied()
    }

    /// Ids and descriptions of control, unknown and user-defined pieces.
    pub fn special_pieces(&self) -> Vec<(u32, String, String)> {
        self.pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                matches!(
                    p.kind,
                    PieceType::Control | PieceType::Unknown | PieceType::UserDefined
                )
            })
            .map(|(i, p)| (i as u32, p.piece.clone(), p.kind.to_string()))
            .collect()
    }

    /// Encodes text to ids.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        SCRATCH.with_borrow_mut(|s| {
            self.segment(text, s, false);
            let mut ids = Vec::with_capacity(s.segments.len() + 4);
            self.resolve(s, |id, _, merge| {
                if !merge {
                    ids.push(id);
                }
            });
            ids
        })
    }

    /// Encodes text to pieces with their byte offsets in `text`.
    pub fn encode_pieces(&self, text: &str) -> Vec<SpmPiece> {
        SCRATCH.with_borrow_mut(|s| {
            self.segment(text, s, true);
            let mut out: Vec<SpmPiece> = Vec::with_capacity(s.segments.len() + 4);
            self.resolve(s, |id, offsets, merge| match out.last_mut() {
                Some(last) if merge => last.offsets.1 = offsets.1,
                _ => out.push(SpmPiece { id, offsets }),
            });
            out
        })
    }

    /// Normalizes `text` into the scratch buffer and segments it with the model.
    fn segment(&self, text: &str, s: &mut Scratch, with_offsets: bool) {
        self.normalizer
            .normalize_into(text, &mut s.normalized, &mut s.map, with_offsets);
        s.segments.clear();
        if s.normalized.is_empty() {
            return;
        }
        match self.model_type {
            ModelType::Unigram => self.unigram(&s.normalized, &mut s.best, &mut s.segments),
            _ => self.bpe(&s.normalized, &mut s.segments),
        }
    }

    /// Turns segments into ids the way SentencePiece's processor does: an unknown
    /// segment becomes its bytes' `<0xXX>` pieces under byte fallback, and
    /// otherwise merges with an unknown right before it. `emit(id, offsets, merge)`
    /// receives each piece; `merge` means "extend the previous unknown instead".
    fn resolve(&self, s: &Scratch, mut emit: impl FnMut(u32, (usize, usize), bool)) {
        let with_offsets = !s.map.is_empty();
        let mut last_was_unk = false;
        for &(start, end, id) in &s.segments {
            let (start, end) = (start as usize, end as usize);
            let offsets = if with_offsets {
                (s.map[start], s.map[end])
            } else {
                (0, 0)
            };
            if id != self.unk_id {
                last_was_unk = false;
                emit(id, offsets, false);
            } else if self.byte_fallback {
                let bytes = &s.normalized[start..end];
                for (i, &b) in bytes.iter().enumerate() {
                    let last = i + 1 == bytes.len();
                    let id = self.byte_ids[usize::from(b)].expect("checked at load");
                    emit(
                        id,
                        if last {
                            offsets
                        } else {
                            (offsets.0, offsets.0)
                        },
                        false,
                    );
                }
                last_was_unk = false;
            } else {
                emit(id, offsets, last_was_unk);
                last_was_unk = true;
            }
        }
    }

    /// The optimized Viterbi of SentencePiece's Unigram model over normalized
    /// bytes, appending `(start, end, id)` segments. Scores follow the
    /// reference's mixed float/double arithmetic so ties break the same way.
    fn unigram(&self, bytes: &[u8], best: &mut Vec<Best>, out: &mut Vec<(u32, u32, u32)>) {
        const UNK_PENALTY: f32 = 10.0;
        const NOT_REACHED: u32 = u32::MAX;
        let size = bytes.len();
        let unk_score = self.min_score - UNK_PENALTY;
        best.clear();
        best.resize(
            size + 1,
            Best {
                id: self.unk_id,
                score: 0.0,
                starts_at: NOT_REACHED,
            },
        );
        let mut starts_at = 0;
        while starts_at < size {
            let till_here = best[starts_at].score;
            let mblen = char_len(bytes[starts_at]).min(size - starts_at);
            let mut has_single_node = false;
            let mut node = ByteTrie::ROOT;
            let mut key_pos = starts_at;
            while key_pos < size {
                match self.trie.step(node, bytes[key_pos]) {
                    Some(next) => node = next,
                    None => break,
                }
                key_pos += 1;
                let Some(id) = self.trie.value(node) else {
                    continue;
                };
                let kind = self.kinds[id as usize];
                if kind == PieceType::Unused {
                    continue;
                }
                let length = key_pos - starts_at;
                let score: f64 = if kind == PieceType::UserDefined {
                    f64::from(length as f32 * self.max_score) - 0.1
                } else {
                    f64::from(self.scores[id as usize])
                };
                let candidate = score + f64::from(till_here);
                let target = &mut best[key_pos];
                if target.starts_at == NOT_REACHED || candidate > f64::from(target.score) {
                    *target = Best {
                        id,
                        score: candidate as f32,
                        starts_at: starts_at as u32,
                    };
                }
                if length == mblen {
                    has_single_node = true;
                }
            }
            if !has_single_node {
                let candidate = unk_score + till_here;
                let target = &mut best[starts_at + mblen];
                if target.starts_at == NOT_REACHED || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        starts_at: starts_at as u32,
                    };
                }
            }
            starts_at += mblen;
        }
        let first = out.len();
        let mut end = size;
        while end > 0 {
            let b = best[end];
            out.push((b.starts_at, end as u32, b.id));
            end = b.starts_at as usize;
        }
        out[first..].reverse();
    }

    /// SentencePiece's BPE: repeatedly merge the adjacent pair whose concatenation
    /// is a piece with the highest score (leftmost on ties); user-defined symbols
    /// never merge; unused pieces are split back into what formed them.
    fn bpe(&self, bytes: &[u8], out: &mut Vec<(u32, u32, u32)>) {
        #[derive(Clone, Copy)]
        struct Symbol {
            start: usize,
            end: usize,
            prev: Option<usize>,
            next: Option<usize>,
            freeze: bool,
        }
        #[derive(PartialEq)]
        struct Pair {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Pair {}
        impl PartialOrd for Pair {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Pair {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                // Max-heap: higher score first, then the leftmost pair.
                self.score
                    .total_cmp(&other.score)
                    .then_with(|| other.left.cmp(&self.left))
            }
        }
        type Span = (usize, usize);

        let mut symbols: Vec<Symbol> = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (len, freeze) = match self.user_defined.longest_prefix(&bytes[pos..]) {
                Some(len) => (len, true),
                None => (char_len(bytes[pos]).min(bytes.len() - pos), false),
            };
            let index = symbols.len();
            symbols.push(Symbol {
                start: pos,
                end: pos + len,
                prev: index.checked_sub(1),
                next: (pos + len < bytes.len()).then_some(index + 1),
                freeze,
            });
            pos += len;
        }
        // Merged span of an unused piece to the two spans that formed it.
        let mut rev_merge: HashMap<Span, (Span, Span)> = HashMap::new();
        let mut agenda = BinaryHeap::new();
        let mut maybe_add = |symbols: &[Symbol],
                             agenda: &mut BinaryHeap<Pair>,
                             left: Option<usize>,
                             right: Option<usize>| {
            let (Some(l), Some(r)) = (left, right) else {
                return;
            };
            let (ls, rs) = (symbols[l], symbols[r]);
            if ls.freeze || rs.freeze {
                return;
            }
            // The trie holds exactly the NORMAL, USER_DEFINED and UNUSED pieces.
            let Some(id) = self.trie.get(&bytes[ls.start..rs.end]) else {
                return;
            };
            agenda.push(Pair {
                score: self.scores[id as usize],
                left: l,
                right: r,
                size: rs.end - ls.start,
            });
            if self.kinds[id as usize] == PieceType::Unused {
                rev_merge.insert((ls.start, rs.end), ((ls.start, ls.end), (rs.start, rs.end)));
            }
        };
        for i in 1..symbols.len() {
            maybe_add(&symbols, &mut agenda, Some(i - 1), Some(i));
        }
        while let Some(top) = agenda.pop() {
            let (l, r) = (symbols[top.left], symbols[top.right]);
            let (l_len, r_len) = (l.end - l.start, r.end - r.start);
            if l_len == 0 || r_len == 0 || l_len + r_len != top.size {
                continue;
            }
            symbols[top.left].end = r.end;
            symbols[top.left].next = r.next;
            if let Some(n) = r.next {
                symbols[n].prev = Some(top.left);
            }
            symbols[top.right].end = symbols[top.right].start;
            let left = symbols[top.left];
            maybe_add(&symbols, &mut agenda, left.prev, Some(top.left));
            maybe_add(&symbols, &mut agenda, Some(top.left), left.next);
        }
        let lookup = |span: &[u8]| {
            self.trie
                .get(span)
                .or_else(|| {
                    std::str::from_utf8(span)
                        .ok()
                        .and_then(|s| self.piece_to_id(s))
                })
                .unwrap_or(self.unk_id)
        };
        let mut stack = Vec::new();
        let mut index = if symbols.is_empty() { None } else { Some(0) };
        while let Some(i) = index {
            stack.push((symbols[i].start, symbols[i].end));
            while let Some((s, e)) = stack.pop() {
                let id = lookup(&bytes[s..e]);
                match rev_merge.get(&(s, e)) {
                    Some(&(left, right)) if self.kinds[id as usize] == PieceType::Unused => {
                        stack.push(right);
                        stack.push(left);
                    }
                    _ => out.push((s as u32, e as u32, id)),
                }
            }
            index = symbols[i].next;
        }
    }

    /// Decodes ids as SentencePiece does: control pieces vanish, `<unk>` becomes
    /// the unknown surface, byte pieces are reassembled into UTF-8 (U+FFFD for
    /// each invalid byte) and the leading `▁` of the text is dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        let mut text = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut is_bos_ws = true;
        let mut bos_ws_seen = false;
        let flush_bytes = |bytes: &mut Vec<u8>, text: &mut String| {
            let mut i = 0;
            while i < bytes.len() {
                let len = char_len(bytes[i]);
                match bytes
                    .get(i..i + len)
                    .and_then(|c| std::str::from_utf8(c).ok())
                {
                    Some(s) => {
                        text.push_str(s);
                        i += len;
                    }
                    None => {
                        text.push('\u{FFFD}');
                        i += 1;
                    }
                }
            }
            bytes.clear();
        };
        for &id in ids {
            let piece = self
                .pieces
                .get(id as usize)
                .ok_or(TokenizeError::IdOutOfRange {
                    id,
                    vocab_size: self.pieces.len(),
                })?;
            // Every byte piece was checked at load to be `<0xXX>` and the only
            // piece of its byte.
            if piece.kind == PieceType::Byte
                && let Some(b) = byte_piece_value(&piece.piece)
            {
                bytes.push(b);
                continue;
            }
            flush_bytes(&mut bytes, &mut text);
            if bos_ws_seen || !text.is_empty() {
                is_bos_ws = false;
            }
            let (decoded, seen) = match piece.kind {
                PieceType::Control => (String::new(), false),
                PieceType::Unknown => (self.unk_surface.clone(), false),
                _ => {
                    let mut p = piece.piece.as_str();
                    let mut has_bos_ws = false;
                    if is_bos_ws
                        && (self.normalizer.add_dummy_prefix
                            || self.normalizer.remove_extra_whitespaces)
                    {
                        if let Some(rest) = p.strip_prefix(SPACE_SYMBOL) {
                            p = rest;
                            has_bos_ws = true;
                        }
                        if self.normalizer.remove_extra_whitespaces {
                            has_bos_ws = false;
                        }
                    }
                    (p.replace(SPACE_SYMBOL, " "), has_bos_ws)
                }
            };
            bos_ws_seen = seen;
            text.push_str(&decoded);
        }
        flush_bytes(&mut bytes, &mut text);
        Ok(text)
    }
}

/// The byte of a byte piece in SentencePiece's one spelling, `<0xXX>` with
/// two upper-case hex digits (`<0x41>`; not `<0x041>` or `<0x4a>`).
fn byte_piece_value(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    let ok = hex.len() == 2
        && hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c));
    ok.then(|| u8::from_str_radix(hex, 16).ok()).flatten()
}

/// Length of the UTF-8 sequence a lead byte starts (1 for invalid lead bytes).
fn char_len(lead: u8) -> usize {
    match lead {
        b if b < 0x80 => 1,
        b if b >> 5 == 0b110 => 2,
        b if b >> 4 == 0b1110 => 3,
        b if b >> 3 == 0b11110 => 4,
        _ => 1,
    }
}
