"""A chat reply with `transformers` from a model directory codex exported.

Usage: python chat_roundtrip.py EXPORT_DIR MESSAGES_JSON MAX_NEW_TOKENS STOP_ID [STOP_ID ...]

Loads the directory as a user of `transformers` would (its tokenizer, with
the chat template it finds there, and AutoModelForCausalLM), renders the
conversation with `apply_chat_template(..., add_generation_prompt=True)`,
generates greedily until one of the stop ids, and prints one JSON object:
the prompt's ids, the reply's new ids (the stop id left out) and its text
(special tokens skipped). The codex test that calls this compares it with
`codex chat render` and `codex chat`.
"""

import json
import sys

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast


def main():
    export, messages_file, max_new = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stops = [int(s) for s in sys.argv[4:]]
    with open(messages_file) as f:
        messages = json.load(f)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(export)
    model = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32)
    model.eval()
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )["input_ids"]
    with torch.no_grad():
        generated = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=stops,
        )
    new = generated[0, ids.shape[1]:].tolist()
    if new and new[-1] in stops:
        new = new[:-1]
    print(json.dumps({
        "prompt_ids": ids[0].tolist(),
        "reply_ids": new,
        "reply": tokenizer.decode(new, skip_special_tokens=True),
        "has_template": tokenizer.chat_template is not None,
    }))


if __name__ == "__main__":
    main()
