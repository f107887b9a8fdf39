"""Conformance fixtures for codex-model, made with the Python `transformers` package.

For each tiny random-initialized model this writes, under tests/data/model/<name>/:
  config.json, model.safetensors (or shards + model.safetensors.index.json)
  golden.json: the input ids, their logits, and greedy generations.

With --export DIR... it instead loads each model exported by codex from DIR, runs
the same inputs through transformers, and writes DIR/golden.json: the export
round trip (codex -> safetensors -> transformers).

Usage (from the repository root):
    python -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install -r scripts/goldens/requirements-model.txt
    /tmp/hfvenv/bin/python scripts/goldens/model_goldens.py
    cargo run -q -p codex-model --example export_fixture -- tests/data/model/export
    /tmp/hfvenv/bin/python scripts/goldens/model_goldens.py \
        --export tests/data/model/export/gpt2 tests/data/model/export/llama
"""

import argparse
import hashlib
import json
import os
import shutil

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "model")

INPUTS = [
    [1, 5, 9, 33, 70, 2, 2, 17, 88, 41, 0, 63],
    [95, 4, 4, 4, 12, 50, 51, 52, 7, 30, 1, 9],
]
PROMPTS = [[3, 14, 15, 92, 65], [27, 18]]
MAX_NEW = 12


def models():
    yield "gpt2", GPT2LMHeadModel, GPT2Config(
        vocab_size=96, n_positions=32, n_embd=32, n_layer=2, n_head=4,
        activation_function="gelu_new", layer_norm_epsilon=1e-5,
        initializer_range=0.2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=0, eos_token_id=0,
    ), None
    yield "llama-gqa-tied", LlamaForCausalLM, LlamaConfig(
        vocab_size=96, hidden_size=32, intermediate_size=88, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
        initializer_range=0.2, bos_token_id=0, eos_token_id=0,
    ), None
    yield "llama-mha-untied-sharded", LlamaForCausalLM, LlamaConfig(
        vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=32,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
        initializer_range=0.2, bos_token_id=0, eos_token_id=0,
    ), "20KB"


def run(model):
    with torch.no_grad():
        logits = model(torch.tensor(INPUTS)).logits
    greedy = []
    for prompt in PROMPTS:
        out = model.generate(
            torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=None, pad_token_id=0,
        )
        greedy.append(out[0, len(prompt):].tolist())
    return {
        "inputs": INPUTS,
        "logits_shape": list(logits.shape),
        "logits": [round(float(x), 7) for x in logits.flatten()],
        "prompts": PROMPTS,
        "greedy": greedy,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


def fixtures():
    for name, cls, config, shard in models():
        torch.manual_seed(0)
        model = cls(config).eval()
        out = os.path.join(ROOT, name)
        shutil.rmtree(out, ignore_errors=True)
        kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(out, safe_serialization=True, **kwargs)
        for extra in ("generation_config.json",):
            path = os.path.join(out, extra)
            if os.path.exists(path):
                os.remove(path)
        with open(os.path.join(out, "golden.json"), "w") as f:
            json.dump(run(model), f)
        print(name, sorted(os.listdir(out)))


def export(directory):
    model = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
    golden = run(model)
    with open(os.path.join(directory, "model.safetensors"), "rb") as f:
        golden["model_safetensors_sha256"] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(directory, "golden.json"), "w") as f:
        json.dump(golden, f)
    print("export", directory, type(model).__name__)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--export", nargs="+", help="directories exported by codex")
    args = parser.parse_args()
    if args.export:
        for directory in args.export:
            export(directory)
    else:
        fixtures()
