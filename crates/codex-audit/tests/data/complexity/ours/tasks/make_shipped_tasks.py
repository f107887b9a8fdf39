#!/usr/bin/env python3
"""Writes the data of codex's shipped benchmark tasks (tasks/*/) from data
codex generates itself, so that no dataset is downloaded:

- synth_completion: multiple choice. A sentence of the synthetic corpus
  without its last three words, and four endings: its own and three taken
  from other sentences (acc, acc_norm).
- synth_perplexity: rolling log-likelihood over held-out synthetic
  documents (word/byte perplexity, bits per byte).
- chat_qa: generation. The held-out questions of the chat instruction set,
  answered greedily until a newline (exact match, and a regex filter that
  keeps the first number).

The corpus seeds differ from the embedded default's (seed 0), so the
documents are held out from a model trained on it.

Usage: python3 scripts/tasks/make_shipped_tasks.py [CODEX_BINARY]
"""
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODEX = sys.argv[1] if len(sys.argv) > 1 else "codex"


def synth_text(seed, size):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "corpus.txt"
        subprocess.run([CODEX, "-q", "data", "synth", "--size", size, "--seed", str(seed), "--out", str(out)], check=True)
        return out.read_text(encoding="utf-8").splitlines()


def synth_chat(seed, n):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "chat.jsonl"
        subprocess.run([CODEX, "-q", "data", "synth", "--kind", "chat", "--examples", str(n), "--seed", str(seed), "--heldout", "--out", str(out)], check=True)
        return [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def completion():
    rnd = random.Random(11)
    sentences = []
    for line in synth_text(7, "60KB"):
        for s in re.findall(r"[^.!?]+[.!?]", line):
            words = s.split()
            if len(words) >= 6:
                sentences.append(words)
    rows = []
    for i, words in enumerate(sentences[:300]):
        ending = " ".join(words[-3:])
        others = set()
        while len(others) < 3:
            o = " ".join(rnd.choice(sentences)[-3:])
            if o != ending:
                others.add(o)
        endings = sorted(others) + [ending]
        rnd.shuffle(endings)
        rows.append({"id": i, "context": " ".join(words[:-3]), "endings": endings, "label": endings.index(ending)})
    write_jsonl(ROOT / "tasks/synth_completion/train.jsonl", rows[:50])
    write_jsonl(ROOT / "tasks/synth_completion/test.jsonl", rows[50:])


def perplexity():
    docs = [{"text": l} for l in synth_text(9, "40KB") if l.strip()]
    write_jsonl(ROOT / "tasks/synth_perplexity/test.jsonl", docs[:60])


def chat_qa():
    rows = []
    for ex in synth_chat(5, 250):
        q = ex["messages"][0]["content"]
        a = ex["messages"][1]["content"]
        rows.append({"question": q, "answer": a})
    write_jsonl(ROOT / "tasks/chat_qa/train.jsonl", rows[:50])
    write_jsonl(ROOT / "tasks/chat_qa/test.jsonl", rows[50:])


if __name__ == "__main__":
    completion()
    perplexity()
    chat_qa()
