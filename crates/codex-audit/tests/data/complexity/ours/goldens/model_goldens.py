"""Conformance fixtures for codex-model, made with the Python `transformers` package.

For each tiny random-initialized model this writes, under tests/data/model/<name>/:
  config.json, model.safetensors (or shards + model.safetensors.index.json)
  golden.json: the input ids and their logits, a left-padded batch with its
  attention mask, position ids and logits, and greedy generations.

The families are those codex imports: gpt2, llama (with the rope scalings
linear, dynamic and llama3, biases, a head_dim of its own), qwen2 (with and
without sliding-window layers), qwen3, mistral, phi3 (fused projections,
half of each head rotating, a window) and gemma2 (soft caps that bind, its own
score scale, a window on alternate layers). The scaled and windowed
models get inputs longer than their original context or window, so that the
scaling and the window change the logits.

With --export DIR... it instead loads each model exported by codex from DIR, runs
the same inputs through transformers, and writes DIR/golden.json: the export
round trip (codex -> safetensors -> transformers).

Usage (from the repository root):
    python -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install -r scripts/goldens/requirements-model.txt
    /tmp/hfvenv/bin/python scripts/goldens/model_goldens.py
    cargo run -q -p codex-model --example export_fixture -- tests/data/model/export
    /tmp/hfvenv/bin/python scripts/goldens/model_goldens.py \
        --export tests/data/model/export/{gpt2,llama,llama3,qwen2,qwen3,mistral,phi3,gemma2}
"""

import argparse
import hashlib
import json
import os
import shutil

import torch
import transformers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Gemma2Config,
    Gemma2ForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Phi3Config,
    Phi3ForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "model")

INPUTS = [
    [1, 5, 9, 33, 70, 2, 2, 17, 88, 41, 0, 63],
    [95, 4, 4, 4, 12, 50, 51, 52, 7, 30, 1, 9],
]
PROMPTS = [[3, 14, 15, 92, 65], [27, 18]]
MAX_NEW = 12


def long_inputs(seq):
    """Two deterministic rows of `seq` token ids below 96."""
    return [[(i * 37 + 11) % 96 for i in range(seq)], [(i * 53 + 5) % 96 for i in range(seq)]]


def rotary(cls_config, **overrides):
    """A tiny rotary-family config: 2 layers, 4 query heads over 2 key/value heads."""
    base = dict(
        vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-6, tie_word_embeddings=False, initializer_range=0.2,
        bos_token_id=0, eos_token_id=0,
    )
    base.update(overrides)
    return cls_config(**base)


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


# Families and variants beyond the first two: (name, class, config, options).
# `seq` sets the length of the logits inputs; `max_new` the greedy tokens.
def variants():
    yield "llama3-scaled", LlamaForCausalLM, rotary(
        LlamaConfig, hidden_size=64,
        rope_parameters={
            "rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32,
        },
    ), {"seq": 48, "max_new": 32}
    yield "llama-bias-headdim-linear", LlamaForCausalLM, rotary(
        LlamaConfig, head_dim=16, attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
        rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0},
    ), {"seq": 12, "max_new": 32}
    yield "llama-dynamic", LlamaForCausalLM, rotary(
        LlamaConfig, max_position_embeddings=16,
        rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
    ), {"seq": 24, "max_new": 10}
    yield "qwen2", Qwen2ForCausalLM, rotary(Qwen2Config, tie_word_embeddings=True), {
        "seq": 12, "max_new": 32,
    }
    yield "qwen2-window", Qwen2ForCausalLM, rotary(
        Qwen2Config, use_sliding_window=True, sliding_window=6, max_window_layers=1,
    ), {"seq": 24, "max_new": 32}
    yield "qwen3", Qwen3ForCausalLM, rotary(Qwen3Config, head_dim=16), {"seq": 12, "max_new": 32}
    yield "mistral-window", MistralForCausalLM, rotary(MistralConfig, sliding_window=5), {
        "seq": 24, "max_new": 32,
    }
    # Soft caps low enough to bind on these weights (scores reach past 1, logits
    # past 3), a query_pre_attn_scalar unlike head_dim, a window on layer 0.
    yield "gemma2-softcap-window", Gemma2ForCausalLM, rotary(
        Gemma2Config, head_dim=16, query_pre_attn_scalar=12, attn_logit_softcapping=1.0,
        final_logit_softcapping=3.0, sliding_window=5, tie_word_embeddings=True,
        hidden_activation="gelu_pytorch_tanh", pad_token_id=0,
    ), {"seq": 24, "max_new": 32}
    # Half-precision checkpoints: weights stored in bfloat16 and float16, the
    # golden computed in float32 from the rounded weights, as codex imports them.
    yield "qwen3-bf16", Qwen3ForCausalLM, rotary(Qwen3Config, head_dim=16), {
        "seq": 12, "max_new": 32, "dtype": torch.bfloat16,
    }
    yield "gemma2-f16", Gemma2ForCausalLM, rotary(
        Gemma2Config, head_dim=16, query_pre_attn_scalar=16, attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0, sliding_window=8, hidden_activation="gelu_pytorch_tanh",
        pad_token_id=0,
    ), {"seq": 12, "max_new": 32, "dtype": torch.float16}
    yield "phi3-partial-window", Phi3ForCausalLM, rotary(
        Phi3Config, hidden_size=64, sliding_window=7, pad_token_id=0,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    ), {"seq": 24, "max_new": 32}


def padded_batch(inputs):
    """The rows of `inputs` left-padded with 0 by 0, 3, ... tokens: ids, mask,
    and the position ids generation uses (counting real tokens only)."""
    seq = len(inputs[0])
    ids, mask = [], []
    for r, row in enumerate(inputs):
        pad = min(3 * r, seq - 1)
        ids.append([0] * pad + row[: seq - pad])
        mask.append([0] * pad + [1] * (seq - pad))
    mask_t = torch.tensor(mask)
    positions = (mask_t.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions.tolist()


def run(model, inputs=INPUTS, max_new=MAX_NEW):
    with torch.no_grad():
        logits = model(torch.tensor(inputs)).logits
        ids, mask, positions = padded_batch(inputs)
        padded = model(
            torch.tensor(ids), attention_mask=torch.tensor(mask),
            position_ids=torch.tensor(positions),
        ).logits
        # Padding rows are not compared; zero them so the file is deterministic.
        padded = padded * torch.tensor(mask)[..., None]
    greedy = []
    for prompt in PROMPTS:
        out = model.generate(
            torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=max_new, do_sample=False, eos_token_id=None, pad_token_id=0,
        )
        greedy.append(out[0, len(prompt):].tolist())
    return {
        "inputs": inputs,
        "logits_shape": list(logits.shape),
        "logits": [round(float(x), 7) for x in logits.flatten()],
        "padded": {
            "inputs": ids, "mask": mask, "positions": positions,
            "logits": [round(float(x), 7) for x in padded.flatten()],
        },
        "prompts": PROMPTS,
        "greedy": greedy,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


def fixtures():
    every = [(name, cls, config, shard, {}) for name, cls, config, shard in models()]
    every += [(name, cls, config, None, options) for name, cls, config, options in variants()]
    for name, cls, config, shard, options in every:
        torch.manual_seed(0)
        model = cls(config).eval()
        out = os.path.join(ROOT, name)
        shutil.rmtree(out, ignore_errors=True)
        kwargs = {"max_shard_size": shard} if shard else {}
        if "dtype" in options:
            model.to(options["dtype"]).save_pretrained(out, safe_serialization=True, **kwargs)
            model = cls.from_pretrained(out, dtype=torch.float32).eval()
        else:
            model.save_pretrained(out, safe_serialization=True, **kwargs)
        for extra in ("generation_config.json",):
            path = os.path.join(out, extra)
            if os.path.exists(path):
                os.remove(path)
        inputs = long_inputs(options["seq"]) if "seq" in options else INPUTS
        golden = run(model, inputs, options.get("max_new", MAX_NEW))
        with open(os.path.join(out, "golden.json"), "w") as f:
            json.dump(golden, f)
        print(name, sorted(os.listdir(out)))


def export(directory):
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        directory, output_loading_info=True
    )
    model.eval()
    golden = run(model)
    # What transformers would warn about: keys it expected and did not find,
    # keys it found and did not expect, tensors whose shape did not fit.
    golden["loading_info"] = {
        key: sorted(str(x) for x in value) for key, value in info.items()
    }
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
