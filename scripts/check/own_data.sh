#!/usr/bin/env bash
# Runs the README's "Train on your own data" commands, as written, with the
# `codex` binary given as $1, in a scratch directory holding a text file, a
# JSONL file and a directory made from this repository's own prose. Each
# must finish with a summary.json in its run directory. OWN_DATA_EXTRA, if set,
# is appended to each command (CI stops them early with train.max_steps=N: the
# commands' ingestion, tokenizer, training, evaluation and summary all run, and
# the full-length training is the embedded default's job).
set -euo pipefail
codex_bin=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prose to train on: every Markdown and Rust doc line of the repository,
# a few hundred KB, as paragraphs of one line each.
find "$repo/README.md" "$repo/docs" "$repo/crates" -name '*.md' -o -name '*.rs' |
  sort | xargs cat | grep -v '^\s*$' > "$work/notes.txt"
python3 - "$work" <<'PY'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
lines = (work / "notes.txt").read_text(encoding="utf-8").splitlines()
with open(work / "docs.jsonl", "w", encoding="utf-8") as f:
    for line in lines:
        f.write(json.dumps({"text": line}) + "\n")
corpus = work / "corpus"
corpus.mkdir()
half = len(lines) // 2
(corpus / "a.txt").write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
with open(corpus / "b.jsonl", "w", encoding="utf-8") as f:
    for line in lines[half:]:
        f.write(json.dumps({"text": line}) + "\n")
PY

block=$(sed -n '/<!-- own-data:/,/^```$/p' "$repo/README.md" | grep '^codex ')
[ "$(printf '%s\n' "$block" | wc -l)" -eq 3 ] || { echo "own_data: expected 3 commands in the README block"; exit 1; }
cd "$work"
mkdir -p runs
while IFS= read -r line; do
  echo "own_data: $line"
  before=$(find runs -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
  # The README's words, with `codex` the binary under test.
  read -ra words <<< "${line#codex } ${OWN_DATA_EXTRA:-}"
  "$codex_bin" --quiet "${words[@]}" >/dev/null
  after=$(find runs -mindepth 1 -maxdepth 1 -type d | wc -l)
  [ "$after" -eq $((before + 1)) ] || { echo "own_data: no new run for: $line"; exit 1; }
  newest=$(ls -d runs/* | sort | tail -1)
  [ -f "$newest/summary.json" ] || { echo "own_data: $newest has no summary.json"; exit 1; }
done <<< "$block"
echo "own_data: all three README commands trained"
