#!/usr/bin/env bash
# The tiny model of codex-train's task parity test (tests/data/tasks/model):
# codex's synthetic corpus mixed with question/answer documents of its chat
# set, written as the shipped chat_qa task prompts them, trained for 1,500
# steps and exported. Then the harness's goldens on the shipped tasks.
# Usage: bash scripts/goldens/tasks_model.sh CODEX_BINARY PYTHON_WITH_LM_EVAL
set -euo pipefail
codex=${1:-codex}
python=${2:-python3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$codex" data synth --size 1200KB --seed 0 --out "$work/corpus.txt"
"$codex" data synth --kind chat --examples 12000 --seed 1 --out "$work/chat.jsonl"
"$python" - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
docs = open(f"{work}/corpus.txt", encoding="utf-8").read().splitlines()
qa = []
for line in open(f"{work}/chat.jsonl", encoding="utf-8"):
    m = json.loads(line)["messages"]
    qa.append(f"Q: {m[0]['content']}\nA: {m[1]['content']}")
rows = ["\n\n".join(qa[i:i + 3]) for i in range(0, len(qa), 3)] + [d for d in docs if d.strip()]
random.Random(0).shuffle(rows)
with open(f"{work}/mix.jsonl", "w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps({"text": r}) + "\n")
PY
cat > "$work/tiny.yaml" <<YAML
run: {name: tasks-tiny, seed: 3, runs_dir: $work/runs}
tokenizer: {vocab_size: 384}
data: {sources: [$work/mix.jsonl]}
model: {n_layer: 2, n_head: 4, n_kv_head: 2, d_model: 48, d_ff: 128, context_length: 64}
train: {max_steps: 1500, warmup_steps: 30, batch_size: 16, eval_every: 500, checkpoint_every: 1500}
YAML
"$codex" train --config "$work/tiny.yaml"
out="$root/crates/codex-train/tests/data/tasks"
rm -rf "$out/model"
"$codex" model export "$work"/runs/*-tasks-tiny --out "$out/model"
"$python" "$root/scripts/goldens/tasks_goldens.py" "$out/model" "$out/golden" "$root/tasks"
