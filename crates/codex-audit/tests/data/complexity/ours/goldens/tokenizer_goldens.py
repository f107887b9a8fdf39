"""Make the tokenizer fixtures and goldens that codex-tokenize's tests compare against.

Run from the repository root:
    python3 -m venv /tmp/goldens && /tmp/goldens/bin/pip install -r scripts/goldens/requirements-tokenize.txt
    /tmp/goldens/bin/python scripts/goldens/tokenizer_goldens.py

It writes crates/codex-tokenize/tests/data/: a small generated corpus, tokenizer.json
files trained with Hugging Face `tokenizers`, SentencePiece .model files trained with
Google's `sentencepiece`, and golden.json with the ids those libraries give on
tricky texts. The tests read only the committed files, so they need no Python.
"""

import json
import os
import random

import sentencepiece as spm
import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = "crates/codex-tokenize/tests/data"

WORDS = (
    "the a river stone light moves over quiet fields and small towns where people "
    "build boats read books write letters count numbers sing songs under bright "
    "stars while rain falls on old roofs"
).split()
EXTRA = ["café", "naïve", "Zürich", "東京", "Москва", "😀", "🙂", "数据", "ﬁne", "Ａｂｃ", "１２３"]


def corpus_lines(n=1500, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 14))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(EXTRA))
        if rng.random() < 0.2:
            words.append(str(rng.randint(0, 99999)))
        sentence = " ".join(words)
        lines.append(sentence[0].upper() + sentence[1:] + rng.choice([".", "!", "?", ","]))
    return lines


TEXTS = [
    "",
    "Hello world",
    "The river moves over quiet fields.",
    "  leading and trailing spaces  ",
    "runs   of    spaces\tand\ttabs",
    "line one\nline two\n\nline four",
    "café naïve Zürich",
    "東京 and Москва",
    "emoji 😀🙂 and 👩‍👩‍👧 family",
    "ﬁne Ａｂｃ １２３",
    "numbers 12345 and 3.14159",
    "rare 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 龘",
    "<sep> user <sep>defined",
    "\u00a0non-breaking\u00a0space",
    "a",
    " ",
    "UPPER lower MiXeD",
    "punctuation!!! ??? ... ,,,",
]


def hf_tokenizers(corpus_path):
    out = {}
    specials = ["<|endoftext|>", "<|pad|>"]

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=True)
    bpe.train([corpus_path], trainers.BpeTrainer(
        vocab_size=600, min_frequency=2, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    out["bpe"] = bpe

    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.decoder = decoders.WordPiece()
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    wp.train([corpus_path], trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]"], show_progress=False))
    out["wordpiece"] = wp

    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.NFKC()
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.decoder = decoders.Metaspace()
    uni.train([corpus_path], trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<pad>", "<unk>"], unk_token="<unk>", show_progress=False))
    out["unigram"] = uni
    return out


def spm_models(corpus_path):
    rules = os.path.join(OUT, "spm-rules.tsv")
    with open(rules, "w", encoding="utf-8") as f:
        # Tab and no-break space to space, the fi ligature to "fi", full-width A-C to ASCII.
        f.write("9\t20\nA0\t20\nFB01\t66 69\nFF21\t41\nFF22\t42\nFF23\t43\n")
    common = dict(input=corpus_path, vocab_size=300, user_defined_symbols=["<sep>"],
                  character_coverage=0.995, minloglevel=2, num_threads=1)
    variants = {
        "spm-unigram": dict(model_type="unigram", normalization_rule_name="nmt_nfkc"),
        "spm-unigram-bf": dict(model_type="unigram", byte_fallback=True, vocab_size=420,
                               normalization_rule_name="identity"),
        "spm-bpe": dict(model_type="bpe", normalization_rule_tsv=rules),
        "spm-bpe-bf": dict(model_type="bpe", byte_fallback=True, vocab_size=420, normalization_rule_tsv=rules,
                           remove_extra_whitespaces=False),
    }
    for name, extra in variants.items():
        spm.SentencePieceTrainer.train(model_prefix=os.path.join(OUT, name), **{**common, **extra})
        os.remove(os.path.join(OUT, name + ".vocab"))
    return {name: spm.SentencePieceProcessor(model_file=os.path.join(OUT, name + ".model"))
            for name in variants}


def main():
    os.makedirs(OUT, exist_ok=True)
    corpus_path = os.path.join(OUT, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write("\n".join(corpus_lines()) + "\n")

    golden = {"tokenizers_version": tokenizers.__version__,
              "sentencepiece_version": spm.__version__, "texts": TEXTS,
              "huggingface": {}, "sentencepiece": {}}

    for name, tok in hf_tokenizers(corpus_path).items():
        tok.save(os.path.join(OUT, f"hf-{name}.json"))
        entry = {"plain": [], "special": []}
        for text in TEXTS:
            enc = tok.encode(text, add_special_tokens=False)
            entry["plain"].append({"ids": enc.ids, "offsets": enc.offsets,
                                   "decoded": tok.decode(enc.ids)})
            entry["special"].append(tok.encode(text).ids)
        pad = "<|pad|>" if name == "bpe" else ("[PAD]" if name == "wordpiece" else "<pad>")
        for side in ["right", "left"]:
            tok.enable_padding(direction=side, pad_token=pad, pad_id=tok.token_to_id(pad),
                               pad_to_multiple_of=4)
            batch = tok.encode_batch(TEXTS[1:6], add_special_tokens=False)
            entry[f"batch_pad_{side}"] = [{"ids": e.ids, "attention_mask": e.attention_mask}
                                          for e in batch]
        tok.no_padding()
        tok.enable_truncation(max_length=6, stride=2)
        enc = tok.encode(TEXTS[2], add_special_tokens=False)
        entry["truncated"] = {"ids": enc.ids, "overflowing": [o.ids for o in enc.overflowing]}
        tok.no_truncation()
        golden["huggingface"][name] = entry

    for name, sp in spm_models(corpus_path).items():
        entry = []
        for text in TEXTS:
            ids = sp.encode(text)
            entry.append({"ids": ids, "pieces": [sp.id_to_piece(i) for i in ids],
                          "decoded": sp.decode(ids)})
        golden["sentencepiece"][name] = {
            "cases": entry,
            # Decoding of hand-picked id sequences: control ids, unknowns and raw bytes.
            "decode_only": [{"ids": ids, "decoded": sp.decode(ids)}
                            for ids in ([0], [1, 2], list(range(3, 40)), [sp.piece_to_id("<sep>"), 5])],
        }

    with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
