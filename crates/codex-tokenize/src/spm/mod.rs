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
use trie::ByteTrie;

use crate::error::TokenizeError;

pub use export::unigram_to_spm;

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
        let normalizer = Normalizer::new(
            &proto.precompiled_charsmap,
            proto.add_dummy_prefix,
            proto.remove_extra_whitespaces,
            proto.escape_whitespaces,
            proto.treat_whitespace_as_suffix,
        )?;
        let mut trie = ByteTrie::new();
        let mut user_defined = ByteTrie::new();
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
                        let b = p
                            .piece
                            .strip_prefix("<0x")
                            .and_then(|s| s.strip_suffix('>'))
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                            .ok_or_else(|| format!("byte piece `{}` is not <0xXX>", p.piece))?;
                        byte_ids[usize::from(b)] = Some(id);
                    }
                }
            }
        }
        let unk_id = unk_id.ok_or("the model has no unknown piece")?;
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
            trie,
            user_defined,
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

    fn kind(&self, id: u32) -> Option<PieceType> {
        self.pieces.get(id as usize).map(|p| p.kind)
    }

    fn lookup(&self, piece: &str) -> u32 {
        self.piece_to_id(piece).unwrap_or(self.unk_id)
    }

    /// Encodes text to ids.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.encode_pieces(text).into_iter().map(|p| p.id).collect()
    }

    /// Encodes text to pieces with their offsets in `text`.
    pub fn encode_pieces(&self, text: &str) -> Vec<SpmPiece> {
        let (normalized, map) = self.normalizer.normalize(text, &self.user_defined);
        if normalized.is_empty() {
            return Vec::new();
        }
        let segments = match self.model_type {
            ModelType::Unigram => self.unigram(&normalized),
            _ => self.bpe(&normalized),
        };
        let mut out: Vec<SpmPiece> = Vec::with_capacity(segments.len());
        let mut last_was_unk = false;
        for (start, end, id) in segments {
            let offsets = (map[start], map[end]);
            if id == self.unk_id {
                if self.byte_fallback {
                    for (i, &b) in normalized.as_bytes()[start..end].iter().enumerate() {
                        let last = i + 1 == end - start;
                        out.push(SpmPiece {
                            id: self.byte_ids[usize::from(b)].expect("checked at load"),
                            offsets: if last {
                                offsets
                            } else {
                                (offsets.0, offsets.0)
                            },
                        });
                    }
                    last_was_unk = false;
                    continue;
                }
                if last_was_unk {
                    // Consecutive unknowns merge into one, as SentencePiece does.
                    out.last_mut().expect("previous unknown").offsets.1 = offsets.1;
                    continue;
                }
                last_was_unk = true;
            } else {
                last_was_unk = false;
            }
            out.push(SpmPiece { id, offsets });
        }
        out
    }

    /// The optimized Viterbi of SentencePiece's Unigram model over `normalized`'s
    /// bytes: `(start, end, id)` segments. Scores follow the reference's mixed
    /// float/double arithmetic so ties break the same way.
    fn unigram(&self, normalized: &str) -> Vec<(usize, usize, u32)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            starts_at: Option<usize>,
        }
        const UNK_PENALTY: f32 = 10.0;
        let bytes = normalized.as_bytes();
        let size = bytes.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: self.unk_id,
                score: 0.0,
                starts_at: None,
            };
            size + 1
        ];
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
                let kind = self.pieces[id as usize].kind;
                if kind == PieceType::Unused {
                    continue;
                }
                let length = key_pos - starts_at;
                let score: f64 = if kind == PieceType::UserDefined {
                    f64::from(length as f32 * self.max_score) - 0.1
                } else {
                    f64::from(self.pieces[id as usize].score)
                };
                let candidate = score + f64::from(till_here);
                let target = &mut best[key_pos];
                if target.starts_at.is_none() || candidate > f64::from(target.score) {
                    *target = Best {
                        id,
                        score: candidate as f32,
                        starts_at: Some(starts_at),
                    };
                }
                if length == mblen {
                    has_single_node = true;
                }
            }
            if !has_single_node {
                let candidate = unk_score + till_here;
                let target = &mut best[starts_at + mblen];
                if target.starts_at.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        starts_at: Some(starts_at),
                    };
                }
            }
            starts_at += mblen;
        }
        let mut out = Vec::new();
        let mut end = size;
        while end > 0 {
            let b = best[end];
            let start = b.starts_at.expect("every position is reachable");
            out.push((start, end, b.id));
            end = start;
        }
        out.reverse();
        out
    }

    /// SentencePiece's BPE: repeatedly merge the adjacent pair whose concatenation
    /// is a piece with the highest score (leftmost on ties); user-defined symbols
    /// never merge; unused pieces are split back into what formed them.
    fn bpe(&self, normalized: &str) -> Vec<(usize, usize, u32)> {
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

        let bytes = normalized.as_bytes();
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
        type Span = (usize, usize);
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
            let Some(&id) = self.piece_to_id.get(&normalized[ls.start..rs.end]) else {
                return;
            };
            let kind = self.pieces[id as usize].kind;
            if !matches!(
                kind,
                PieceType::Normal | PieceType::UserDefined | PieceType::Unused
            ) {
                return;
            }
            agenda.push(Pair {
                score: self.pieces[id as usize].score,
                left: l,
                right: r,
                size: rs.end - ls.start,
            });
            if kind == PieceType::Unused {
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
        let mut out = Vec::new();
        let resegment = |range: (usize, usize), out: &mut Vec<(usize, usize, u32)>| {
            let mut stack = vec![range];
            while let Some((s, e)) = stack.pop() {
                let id = self.lookup(&normalized[s..e]);
                match rev_merge.get(&(s, e)) {
                    Some(&(left, right)) if self.kind(id) == Some(PieceType::Unused) => {
                        stack.push(right);
                        stack.push(left);
                    }
                    _ => out.push((s, e, id)),
                }
            }
        };
        let mut index = if symbols.is_empty() { None } else { Some(0) };
        while let Some(i) = index {
            resegment((symbols[i].start, symbols[i].end), &mut out);
            index = symbols[i].next;
        }
        out
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
            if piece.kind == PieceType::Byte {
                let b = self
                    .byte_ids
                    .iter()
                    .position(|x| *x == Some(id))
                    .expect("byte piece");
                bytes.push(b as u8);
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
