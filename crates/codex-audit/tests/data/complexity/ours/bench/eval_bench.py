"""Times sacreBLEU (corpus BLEU, chrF) and rouge-score (ROUGE-L, mean F over
pairs) on parallel files; prints one JSON line. Driven by `cargo xtask bench eval`."""

import json
import resource
import sys
import time

import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF


def lines(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line[:-1] if line.endswith("\n") else line for line in f]


def main(hyp_path, ref_path):
    hyps, refs = lines(hyp_path), lines(ref_path)
    out = {"impl": "python", "pairs": len(hyps), "sacrebleu": sacrebleu.__version__}
    t = time.perf_counter()
    out["bleu"] = {"score": BLEU().corpus_score(hyps, [refs]).score}
    out["bleu"]["seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    out["chrf"] = {"score": CHRF().corpus_score(hyps, [refs]).score}
    out["chrf"]["seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    fs = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)]
    out["rougeL"] = {"score": sum(fs) / len(fs), "seconds": time.perf_counter() - t}
    out["total_seconds"] = sum(out[m]["seconds"] for m in ("bleu", "chrf", "rougeL"))
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
