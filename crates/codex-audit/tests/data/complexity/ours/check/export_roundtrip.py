"""Greedy generation with `transformers` from a model directory codex exported.

Usage: python export_roundtrip.py EXPORT_DIR MAX_NEW_TOKENS PROMPT [PROMPT ...]

Loads the directory the way a user of `transformers` would (the tokenizer class
tokenizer_config.json names, AutoModelForCausalLM, the generation_config.json
beside them) and prints one
JSON object: for each prompt, the decoded text (special tokens skipped), the
number of new tokens and whether generation stopped at the end-of-sequence
token. The codex test that calls this compares it with `codex generate`.
"""

import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast


def load_tokenizer(export):
    """The tokenizer class tokenizer_config.json names. AutoTokenizer is not
    used for `PreTrainedTokenizerFast`: transformers 5 maps some model types
    (qwen2 among them) to their own tokenizer class whatever the config says,
    and that class rebuilds a byte-level BPE from the vocabulary, which reads a
    word-level tokenizer.json as nothing at all."""
    with open(f"{export}/tokenizer_config.json") as f:
        declared = json.load(f).get("tokenizer_class")
    if declared == "PreTrainedTokenizerFast":
        return PreTrainedTokenizerFast.from_pretrained(export)
    return AutoTokenizer.from_pretrained(export)


def main():
    export, max_new, prompts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tokenizer = load_tokenizer(export)
    model = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32)
    model.eval()
    eos = model.generation_config.eos_token_id
    out = {"eos_token_id": eos, "results": {}}
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            generated = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new,
                do_sample=False,
            )
        new = generated[0, ids.shape[1]:].tolist()
        stopped = bool(new) and new[-1] == eos
        out["results"][prompt] = {
            "text": tokenizer.decode(generated[0], skip_special_tokens=True),
            "new_tokens": len(new) - int(stopped),
            "stopped_at_eos": stopped,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
