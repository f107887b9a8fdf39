"""Python side of `cargo xtask bench data`: a nanoGPT-style preparation.

Usage: python prepare.py CORPUS TOKENIZER_JSON OUT_FILE
Reads the corpus in batches of lines, encodes them with the `tokenizers`
package's batch encoder (all threads), appends the end-of-text id after every
document and writes uint16 ids with numpy, as nanoGPT's prepare scripts do.
Prints seconds, MB/s, tokens and peak RSS as one JSON object.
"""

import json
import os
import resource
import sys
import time

import numpy as np
from tokenizers import Tokenizer

CORPUS, TOKENIZER, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
BATCH = 4096


def main():
    tok = Tokenizer.from_file(TOKENIZER)
    eot = tok.token_to_id("<|endoftext|>")
    start = time.perf_counter()
    tokens = 0
    with open(CORPUS, encoding="utf-8") as f, open(OUT, "wb") as out:
        batch = []
        for line in f:
            line = line.rstrip("\n")
            if line.strip():
                batch.append(line)
            if len(batch) == BATCH:
                tokens += write(tok, batch, eot, out)
                batch = []
        if batch:
            tokens += write(tok, batch, eot, out)
    secs = time.perf_counter() - start
    print(json.dumps({
        "seconds": secs,
        "mb_s": os.path.getsize(CORPUS) / 1e6 / secs,
        "tokens": tokens,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


def write(tok, batch, eot, out):
    ids = []
    for enc in tok.encode_batch_fast(batch, add_special_tokens=False):
        ids.extend(enc.ids)
        ids.append(eot)
    np.array(ids, dtype=np.uint16).tofile(out)
    return len(ids)


if __name__ == "__main__":
    main()
