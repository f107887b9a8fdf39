//! A decoder for SentencePiece's `ModelProto`, reading only the fields encoding needs.
//!
//! Protobuf wire format: each field is a varint key `(number << 3) | wire_type`
//! followed by a varint (type 0), 8 bytes (1), a length-prefixed payload (2) or
//! 4 bytes (5). Unknown fields are skipped, so models from newer trainers load.
//! Every failure names the byte offset where decoding stopped.

use std::fmt;

/// A piece's role in the vocabulary (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    fn from_wire(v: u64) -> Option<Self> {
        Some(match v {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => return None,
        })
    }
}

impl fmt::Display for PieceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Normal => "normal",
            Self::Unknown => "unknown",
            Self::Control => "control",
            Self::UserDefined => "user-defined",
            Self::Unused => "unused",
            Self::Byte => "byte",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Piece {
    pub(crate) piece: String,
    pub(crate) score: f32,
    pub(crate) kind: PieceType,
}

/// `TrainerSpec.model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelType {
    Unigram,
    Bpe,
    Word,
    Char,
}

/// The fields of `TrainerSpec` and `NormalizerSpec` that affect encoding and decoding,
/// with the defaults the `.proto` declares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelProto {
    pub(crate) pieces: Vec<Piece>,
    pub(crate) model_type: ModelType,
    pub(crate) byte_fallback: bool,
    pub(crate) treat_whitespace_as_suffix: bool,
    pub(crate) unk_surface: String,
    pub(crate) normalizer_name: String,
    pub(crate) precompiled_charsmap: Vec<u8>,
    pub(crate) add_dummy_prefix: bool,
    pub(crate) remove_extra_whitespaces: bool,
    pub(crate) escape_whitespaces: bool,
}

/// Why decoding stopped, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

type Result<T> = std::result::Result<T, DecodeError>;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the whole file, for messages.
    base: usize,
}

enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8], usize),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(DecodeError {
            offset: self.base + self.pos,
            message: message.into(),
        })
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return self.err("truncated varint");
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.err("varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => self.err(format!(
                "field of {n} bytes runs past the end ({} bytes left)",
                self.buf.len() - self.pos
            )),
        }
    }

    /// The next field, or `None` at the end of the message.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 {
            return self.err("field number 0");
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let at = self.base + self.pos;
                Value::Bytes(self.take(len)?, at)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            other => return self.err(format!("unsupported wire type {other}")),
        };
        Ok(Some((number, value)))
    }
}

fn string(bytes: &[u8], at: usize, what: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| DecodeError {
        offset: at + e.utf8_error().valid_up_to(),
        message: format!("{what} is not valid UTF-8"),
    })
}

fn expect_varint(v: Value<'_>, at: usize, what: &str) -> Result<u64> {
    match v {
        Value::Varint(x) => Ok(x),
        _ => Err(DecodeError {
            offset: at,
            message: format!("{what} has the wrong wire type"),
        }),
    }
}

fn expect_bytes<'a>(v: Value<'a>, at: usize, what: &str) -> Result<(&'a [u8], usize)> {
    match v {
        Value::Bytes(b, start) => Ok((b, start)),
        _ => Err(DecodeError {
            offset: at,
            message: format!("{what} has the wrong wire type"),
        }),
    }
}

fn piece(buf: &[u8], base: usize) -> Result<Piece> {
    let mut r = Reader::new(buf, base);
    let mut p = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    while let Some((number, value)) = r.field()? {
        let at = r.base + r.pos;
        match number {
            1 => {
                let (b, start) = expect_bytes(value, at, "piece text")?;
                p.piece = string(b, start, "piece text")?;
            }
            2 => match value {
                Value::Fixed32(bits) => p.score = f32::from_bits(bits),
                _ => return r.err("piece score has the wrong wire type"),
            },
            3 => {
                let v = expect_varint(value, at, "piece type")?;
                p.kind = PieceType::from_wire(v).ok_or(DecodeError {
                    offset: at,
                    message: format!("unknown piece type {v}"),
                })?;
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Decodes a serialized `ModelProto`.
pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto> {
    let mut m = ModelProto {
        pieces: Vec::new(),
        model_type: ModelType::Unigram,
        byte_fallback: false,
        treat_whitespace_as_suffix: false,
        unk_surface: " \u{2047} ".to_owned(),
        normalizer_name: String::new(),
        precompiled_charsmap: Vec::new(),
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
        escape_whitespaces: true,
    };
    let mut r = Reader::new(bytes, 0);
    while let Some((number, value)) = r.field()? {
        let at = r.pos;
        match number {
            1 => {
                let (b, start) = expect_bytes(value, at, "piece")?;
                m.pieces.push(piece(b, start)?);
            }
            2 => {
                let (b, start) = expect_bytes(value, at, "trainer_spec")?;
                let mut t = Reader::new(b, start);
                while let Some((n, v)) = t.field()? {
                    let at = t.base + t.pos;
                    match n {
                        3 => {
                            m.model_type = match expect_varint(v, at, "model_type")? {
                                1 => ModelType::Unigram,
                                2 => ModelType::Bpe,
                                3 => ModelType::Word,
                                4 => ModelType::Char,
                                other => {
                                    return Err(DecodeError {
                                        offset: at,
                                        message: format!("unknown model type {other}"),
                                    });
                                }
                            }
                        }
                        24 => {
                            m.treat_whitespace_as_suffix =
                                expect_varint(v, at, "treat_whitespace_as_suffix")? != 0
                        }
                        35 => m.byte_fallback = expect_varint(v, at, "byte_fallback")? != 0,
                        44 => {
                            let (b, s) = expect_bytes(v, at, "unk_surface")?;
                            m.unk_surface = string(b, s, "unk_surface")?;
                        }
                        _ => {}
                    }
                }
            }
            3 => {
                let (b, start) = expect_bytes(value, at, "normalizer_spec")?;
                let mut t = Reader::new(b, start);
                while let Some((n, v)) = t.field()? {
                    let at = t.base + t.pos;
                    match n {
                        1 => {
                            let (b, s) = expect_bytes(v, at, "normalizer name")?;
                            m.normalizer_name = string(b, s, "normalizer name")?;
                        }
                        2 => {
                            m.precompiled_charsmap =
                                expect_bytes(v, at, "precompiled_charsmap")?.0.to_vec()
                        }
                        3 => m.add_dummy_prefix = expect_varint(v, at, "add_dummy_prefix")? != 0,
                        4 => {
                            m.remove_extra_whitespaces =
                                expect_varint(v, at, "remove_extra_whitespaces")? != 0
                        }
                        5 => {
                            m.escape_whitespaces = expect_varint(v, at, "escape_whitespaces")? != 0
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if m.pieces.is_empty() {
        return Err(DecodeError {
            offset: bytes.len(),
            message: "the model has no pieces".into(),
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::super::export::{bytes_field, varint};
    use super::*;

    fn piece_bytes(text: &str, score: f32, kind: u64) -> Vec<u8> {
        let mut p = Vec::new();
        bytes_field(1, text.as_bytes(), &mut p);
        varint(2 << 3 | 5, &mut p);
        p.extend_from_slice(&score.to_bits().to_le_bytes());
        varint(3 << 3, &mut p);
        varint(kind, &mut p);
        p
    }

    #[test]
    fn decodes_pieces_specs_and_skips_unknown_fields() {
        let mut m = Vec::new();
        bytes_field(1, &piece_bytes("<unk>", 0.0, 2), &mut m);
        bytes_field(1, &piece_bytes("\u{2581}a", -1.5, 1), &mut m);
        let mut trainer = Vec::new();
        varint(3 << 3, &mut trainer);
        varint(2, &mut trainer); // BPE
        varint(35 << 3, &mut trainer);
        varint(1, &mut trainer);
        varint(99 << 3 | 1, &mut trainer); // unknown fixed64 field
        trainer.extend_from_slice(&[0; 8]);
        bytes_field(2, &trainer, &mut m);
        let mut norm = Vec::new();
        varint(3 << 3, &mut norm);
        varint(0, &mut norm);
        bytes_field(3, &norm, &mut m);

        let p = decode(&m).unwrap();
        assert_eq!(p.pieces.len(), 2);
        assert_eq!(p.pieces[1].piece, "\u{2581}a");
        assert_eq!(p.pieces[1].score, -1.5);
        assert_eq!(p.pieces[0].kind, PieceType::Unknown);
        assert_eq!(p.model_type, ModelType::Bpe);
        assert!(p.byte_fallback);
        assert!(!p.add_dummy_prefix);
        assert!(p.remove_extra_whitespaces, "default kept when absent");
    }

    #[test]
    fn truncated_and_garbage_inputs_are_errors_with_offsets() {
        let mut m = Vec::new();
        bytes_field(1, &piece_bytes("abc", 0.0, 1), &mut m);
        for cut in 1..m.len() {
            let err = decode(&m[..cut]).unwrap_err();
            assert!(err.offset <= cut, "offset {} beyond cut {cut}", err.offset);
        }
        assert_eq!(decode(&[]).unwrap_err().message, "the model has no pieces");
        assert!(decode(&[0x0f]).unwrap_err().message.contains("wire type"));
        assert!(decode(&[0xff; 11]).unwrap_err().message.contains("varint"));
        let mut bad_utf8 = Vec::new();
        bytes_field(
            1,
            &{
                let mut p = Vec::new();
                bytes_field(1, &[0x61, 0xff], &mut p);
                p
            },
            &mut bad_utf8,
        );
        let err = decode(&bad_utf8).unwrap_err();
        assert_eq!(err.message, "piece text is not valid UTF-8");
        assert_eq!(err.offset, 5);
    }
}
