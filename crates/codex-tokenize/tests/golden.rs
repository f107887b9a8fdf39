//! Ids and decodes must equal those of the reference libraries (Hugging Face
//! `tokenizers` and Google `sentencepiece`), recorded by scripts/goldens/tokenizer_goldens.py.

use std::path::{Path, PathBuf};

use codex_tokenize::{
    AnyTokenizer, EncodeOptions, HfTokenizer, PadTo, Padding, Side, SpmModel, Truncation,
};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("golden.json")).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn texts(g: &Value) -> Vec<String> {
    g["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn huggingface_ids_offsets_and_decodes_match_python() {
    let g = golden();
    let texts = texts(&g);
    for name in ["bpe", "wordpiece", "unigram"] {
        let entry = &g["huggingface"][name];
        let tok = HfTokenizer::from_file(data(&format!("hf-{name}.json"))).unwrap();
        for (i, text) in texts.iter().enumerate() {
            let want = &entry["plain"][i];
            let enc = tok.encode(text, false).unwrap();
            assert_eq!(enc.ids, ids(&want["ids"]), "{name}: ids of {text:?}");
            // Python reports character offsets; codex reports byte offsets.
            let byte_at: Vec<usize> = text
                .char_indices()
                .map(|(b, _)| b)
                .chain([text.len()])
                .collect();
            let offsets: Vec<(usize, usize)> = want["offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    let c = |i: usize| byte_at[o[i].as_u64().unwrap() as usize];
                    (c(0), c(1))
                })
                .collect();
            assert_eq!(enc.offsets, offsets, "{name}: offsets of {text:?}");
            assert_eq!(
                tok.decode(&enc.ids, true).unwrap(),
                want["decoded"].as_str().unwrap(),
                "{name}: decode of {text:?}"
            );
            let special = tok.encode(text, true).unwrap();
            assert_eq!(
                special.ids,
                ids(&entry["special"][i]),
                "{name}: special ids of {text:?}"
            );
        }
        // The batch path, through the trait seam, gives the same ids.
        let any = AnyTokenizer::Hf(Box::new(tok.clone()));
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batch = codex_core::Tokenizer::encode_batch(&any, &refs, false).unwrap();
        for (i, b) in batch.iter().enumerate() {
            assert_eq!(*b, ids(&entry["plain"][i]["ids"]), "{name}: batch {i}");
        }
    }
}

#[test]
fn huggingface_padding_and_truncation_match_python() {
    let g = golden();
    let texts = texts(&g);
    let batch: Vec<&str> = texts[1..6].iter().map(String::as_str).collect();
    for (name, pad) in [
        ("bpe", "<|pad|>"),
        ("wordpiece", "[PAD]"),
        ("unigram", "<pad>"),
    ] {
        let entry = &g["huggingface"][name];
        let mut tok = HfTokenizer::from_file(data(&format!("hf-{name}.json"))).unwrap();
        for (side, key) in [
            (Side::Right, "batch_pad_right"),
            (Side::Left, "batch_pad_left"),
        ] {
            tok.configure(&EncodeOptions {
                add_special_tokens: false,
                padding: Some(Padding {
                    to: PadTo::Longest,
                    side,
                    multiple_of: Some(4),
                    token: pad.to_owned(),
                }),
                truncation: None,
            })
            .unwrap();
            let got = tok.encode_batch(&batch, false).unwrap();
            for (e, want) in got.iter().zip(entry[key].as_array().unwrap()) {
                assert_eq!(e.ids, ids(&want["ids"]), "{name} {key}");
                assert_eq!(
                    e.attention_mask,
                    ids(&want["attention_mask"]),
                    "{name} {key} mask"
                );
            }
        }
        tok.configure(&EncodeOptions {
            add_special_tokens: false,
            padding: None,
            truncation: Some(Truncation {
                max_length: 6,
                stride: 2,
                side: Side::Right,
            }),
        })
        .unwrap();
        let enc = tok.encode(&texts[2], false).unwrap();
        assert_eq!(enc.ids, ids(&entry["truncated"]["ids"]), "{name} truncated");
        let over: Vec<Vec<u32>> = enc.overflowing.iter().map(|o| o.ids.clone()).collect();
        let want: Vec<Vec<u32>> = entry["truncated"]["overflowing"]
            .as_array()
            .unwrap()
            .iter()
            .map(ids)
            .collect();
        assert_eq!(over, want, "{name} overflowing windows");
    }
}

#[test]
fn sentencepiece_ids_and_decodes_match_google() {
    let g = golden();
    let texts = texts(&g);
    for name in ["spm-unigram", "spm-unigram-bf", "spm-bpe", "spm-bpe-bf"] {
        let entry = &g["sentencepiece"][name];
        let model = SpmModel::from_file(data(&format!("{name}.model"))).unwrap();
        for (i, text) in texts.iter().enumerate() {
            let want = &entry["cases"][i];
            let got = model.encode(text);
            let pieces: Vec<&str> = got
                .iter()
                .map(|&id| model.id_to_piece(id).unwrap())
                .collect();
            assert_eq!(
                (got.clone(), pieces),
                (
                    ids(&want["ids"]),
                    want["pieces"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap())
                        .collect()
                ),
                "{name}: {text:?}"
            );
            assert_eq!(
                model.decode(&got).unwrap(),
                want["decoded"].as_str().unwrap(),
                "{name}: decode {text:?}"
            );
        }
        for case in entry["decode_only"].as_array().unwrap() {
            assert_eq!(
                model.decode(&ids(&case["ids"])).unwrap(),
                case["decoded"].as_str().unwrap(),
                "{name}: decode {:?}",
                case["ids"]
            );
        }
    }
}

/// A byte-fallback model whose piece for byte 0x41 is respelled: `<0x041>`
/// (the same byte twice) or `<0x4a>` (a spelling SentencePiece does not use)
/// is refused at load, naming the piece; decoding never panics on it.
#[test]
fn respelled_byte_pieces_are_refused_at_load() {
    let bytes = std::fs::read(data("spm-unigram-bf.model")).unwrap();
    // The SentencePiece submessage of `<0x41>`: its length, the piece's length
    // and text (score and type follow unchanged).
    let piece = |len: u8, text: &[u8]| {
        let mut p = vec![0x0a, len, 0x0a, text.len() as u8];
        p.extend_from_slice(text);
        p
    };
    let at = bytes
        .windows(10)
        .position(|w| w == piece(0x0f, b"<0x41>").as_slice())
        .expect("the fixture holds <0x41>");
    let respell = |with: &[u8]| {
        let mut b = bytes[..at].to_vec();
        b.extend(piece(0x0f + (with.len() as u8 - 6), with));
        b.extend_from_slice(&bytes[at + 10..]);
        b
    };
    assert!(SpmModel::from_bytes(&respell(b"<0x41>")).is_ok());
    let err = SpmModel::from_bytes(&respell(b"<0x041>")).unwrap_err();
    assert!(err.contains("`<0x041>` is not of the form <0xXX>"), "{err}");
    let err = SpmModel::from_bytes(&respell(b"<0x42>")).unwrap_err();
    assert!(err.contains("piece `<0x42>` appears twice"), "{err}");
}
