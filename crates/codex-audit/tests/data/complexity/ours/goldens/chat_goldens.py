"""Chat-template goldens for codex-tokenize, made with the Python `transformers` package.

Writes tests/data/chat/tokenizer.json (a small byte-level BPE trained on the
tokenizer test corpus, with every family's chat tokens added as special tokens)
and tests/data/chat/golden.json: for each template under
tests/data/chat/templates, each conversation, and add_generation_prompt off
and on, the text and ids of `apply_chat_template`, and on templates with
{% generation %} blocks its `return_assistant_tokens_mask`. Conversations a
template refuses (Gemma's has no system role) are recorded with the
exception's message.

The templates of the open model families are the models' own
(tokenizer_config.json `chat_template`), as vendored by llama.cpp under
models/templates: Qwen2.5-7B-Instruct, Qwen3-0.6B, gemma-2-2b-it,
Llama-3.2-3B-Instruct, Phi-3.5-mini-instruct, Mistral-Nemo-Instruct-2407.
codex-chatml.jinja is codex's built-in `chatml`; zephyr-generation.jinja is a
Zephyr-style template with generation blocks, written for these tests.

Usage (from the repository root):
    python -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install -r scripts/goldens/requirements-model.txt
    /tmp/hfvenv/bin/python scripts/goldens/chat_goldens.py
"""

import json
import pathlib
import re

from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
from transformers import PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "chat"
CORPUS = ROOT / "crates" / "codex-tokenize" / "tests" / "data" / "corpus.txt"

SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>",
    "<s>", "</s>", "[INST]", "[/INST]",
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
]

# The special tokens each family's tokenizer_config.json declares.
ROLES = {
    "qwen2.5": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "gemma2": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "llama3.2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "phi3.5": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "mistral-nemo": {"bos_token": "<s>", "eos_token": "</s>"},
    "codex-chatml": {"eos_token": "<|im_end|>"},
    "zephyr-generation": {"eos_token": "</s>"},
}

# Variables passed to every template (Llama 3.2 prints today's date otherwise).
EXTRA = {"date_string": "26 Jul 2024"}

CONVERSATIONS = {
    "single": [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "5"},
    ],
    "system": [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Reverse: red green blue"},
        {"role": "assistant", "content": "blue green red"},
    ],
    "multi": [
        {"role": "system", "content": "You are a careful assistant.\nBe exact."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "Seven is prime."},
        {"role": "user", "content": "  And an even one?  "},
        {"role": "assistant", "content": " Two — the only even prime. "},
        {"role": "user", "content": "Thanks! ünïcödé ✓"},
        {"role": "assistant", "content": "You're welcome."},
    ],
    "open": [
        {"role": "user", "content": "Extract the city: Ada lives in Lyon."},
        {"role": "assistant", "content": "Lyon"},
        {"role": "user", "content": "And here: Bo moved to Oslo."},
    ],
}


def train_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([str(CORPUS)], trainer)
    path = OUT / "tokenizer.json"
    tok.save(str(path))
    return path


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer_path = train_tokenizer()
    cases = []
    for template_path in sorted((OUT / "templates").glob("*.jinja")):
        name = template_path.stem
        template = template_path.read_text(encoding="utf-8")
        roles = ROLES[name]
        tok = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_path), **roles)
        has_generation = re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None
        for conv_name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (False, True):
                case = {
                    "template": name,
                    "conversation": conv_name,
                    "add_generation_prompt": add_generation_prompt,
                }
                try:
                    out = tok.apply_chat_template(
                        messages,
                        chat_template=template,
                        add_generation_prompt=add_generation_prompt,
                        return_dict=True,
                        return_assistant_tokens_mask=has_generation,
                        **EXTRA,
                    )
                    text = tok.apply_chat_template(
                        messages,
                        chat_template=template,
                        add_generation_prompt=add_generation_prompt,
                        tokenize=False,
                        **EXTRA,
                    )
                except Exception as e:  # a template's own raise_exception
                    case["error"] = str(e)
                    cases.append(case)
                    continue
                case["text"] = text
                case["ids"] = list(out["input_ids"])
                if has_generation:
                    case["assistant_mask"] = list(out["assistant_masks"])
                cases.append(case)
    golden = {
        "extra": EXTRA,
        "roles": ROLES,
        "conversations": CONVERSATIONS,
        "cases": cases,
    }
    (OUT / "golden.json").write_text(
        json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{len(cases)} cases written to {OUT / 'golden.json'}")


if __name__ == "__main__":
    main()
