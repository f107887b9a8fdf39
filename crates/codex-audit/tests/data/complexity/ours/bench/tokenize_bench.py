"""Python side of `cargo xtask bench tokenize`: the reference libraries on the same corpus.

Usage: python tokenize_bench.py CORPUS OUT_DIR
Trains Hugging Face `tokenizers` byte-level BPE and Google `sentencepiece`
Unigram and BPE models (8k and 32k), keeps the 32k BPE tokenizer.json and the
32k Unigram .model for codex to encode with, times encoding with one thread
and with all threads, and prints one JSON object.
"""

import json
import os
import sys
import time

CORPUS, OUT = sys.argv[1], sys.argv[2]
THREADS = os.cpu_count()
BATCH = 10_000


def encode_seconds(fn, lines):
    start = time.perf_counter()
    tokens = 0
    for i in range(0, len(lines), BATCH):
        tokens += sum(len(x) for x in fn(lines[i:i + BATCH]))
    return time.perf_counter() - start, tokens


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    mb = len(text.encode("utf-8")) / 1e6
    lines = text.splitlines()
    results = {"corpus_mb": mb, "threads": THREADS}

    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    for vocab in (8000, 32000):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
        start = time.perf_counter()
        tok.train([CORPUS], trainers.BpeTrainer(
            vocab_size=vocab, min_frequency=2, special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
        results[f"hf_train_bpe_{vocab}"] = time.perf_counter() - start
        results[f"hf_vocab_bpe_{vocab}"] = tok.get_vocab_size()
        tok.save(os.path.join(OUT, f"hf-bpe-{vocab}.json"))

        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        start = time.perf_counter()
        tok.train([CORPUS], trainers.UnigramTrainer(
            vocab_size=vocab, special_tokens=["<unk>"], unk_token="<unk>", show_progress=False))
        results[f"hf_train_unigram_{vocab}"] = time.perf_counter() - start
        results[f"hf_vocab_unigram_{vocab}"] = tok.get_vocab_size()

        for model_type in ("unigram", "bpe"):
            start = time.perf_counter()
            spm.SentencePieceTrainer.train(
                input=CORPUS, model_prefix=os.path.join(OUT, f"spm-{model_type}-{vocab}"),
                model_type=model_type, vocab_size=vocab, num_threads=THREADS, minloglevel=2,
                input_sentence_size=0, character_coverage=1.0, hard_vocab_limit=False)
            results[f"spm_train_{model_type}_{vocab}"] = time.perf_counter() - start
            trained = spm.SentencePieceProcessor(model_file=os.path.join(OUT, f"spm-{model_type}-{vocab}.model"))
            results[f"spm_vocab_{model_type}_{vocab}"] = trained.get_piece_size()

    tok = Tokenizer.from_file(os.path.join(OUT, "hf-bpe-32000.json"))
    for label, par in (("1_thread", "false"), ("all_threads", "true")):
        os.environ["TOKENIZERS_PARALLELISM"] = par
        secs, tokens = encode_seconds(lambda b: [e.ids for e in tok.encode_batch_fast(b, add_special_tokens=False)], lines)
        results[f"hf_encode_batch_fast_mb_s_{label}"] = mb / secs
        results["hf_encode_tokens"] = tokens
        secs, _ = encode_seconds(lambda b: [e.ids for e in tok.encode_batch(b, add_special_tokens=False)], lines)
        results[f"hf_encode_batch_mb_s_{label}"] = mb / secs

    sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "spm-unigram-32000.model"))
    for label, n in (("1_thread", 1), ("all_threads", THREADS)):
        secs, tokens = encode_seconds(lambda b: sp.encode(b, num_threads=n), lines)
        results[f"spm_encode_mb_s_{label}"] = mb / secs
        results["spm_encode_tokens"] = tokens
    print(json.dumps(results))


if __name__ == "__main__":
    main()
