#!/usr/bin/env bash
# Chat fine-tuning end to end, scored: a seeded instruction set whose answers
# follow from the questions (counting words, reversing words, reading a city
# or an age out of a passage), a base model pretrained by codex, a fine-tune
# on the replies only, and exact match on held-out questions the fine-tune
# never saw. Run from the repository root; set CODEX to another binary if
# `codex` is not on PATH. Pass extra overrides for the fine-tune as
# arguments, e.g. `bash examples/chat-sft.sh train.loss_on=all`.
set -euo pipefail
codex=${CODEX:-codex}
work=${WORK:-chat-sft-work}
mkdir -p "$work"
"$codex" data synth --kind chat --examples 20000 --seed 1 --out "$work/chat.jsonl"
"$codex" data synth --kind chat --examples 300 --seed 2 --heldout --out "$work/heldout.jsonl"
"$codex" train --config examples/chat-base.yaml run.runs_dir="$work/runs"
base=$(ls -d "$work"/runs/*-chat-base | tail -1)
"$codex" train --config examples/chat-sft.yaml run.runs_dir="$work/runs" \
  train.init_from="$base" data.sources="[$work/chat.jsonl]" "$@"
sft=$(ls -d "$work"/runs/*-chat-sft | tail -1)
# The base model, asked the same questions, for comparison.
"$codex" chat "$base" --chat-template chatml --batch "$work/heldout.jsonl" \
  --out "$work/base-predictions.jsonl" --temperature 0 --max-new-tokens 16
"$codex" chat "$sft" --batch "$work/heldout.jsonl" --out "$work/predictions.jsonl" \
  --temperature 0 --max-new-tokens 16
echo "base model:"
"$codex" eval text --hyp "$work/base-predictions.jsonl" --metrics em --bootstrap 0 --out "$work/score-base"
echo "fine-tuned:"
"$codex" eval text --hyp "$work/predictions.jsonl" --metrics em --out "$work/score"
