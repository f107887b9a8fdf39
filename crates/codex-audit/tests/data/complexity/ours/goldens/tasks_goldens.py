#!/usr/bin/env python3
"""Runs lm-evaluation-harness (pip package `lm-eval`, its `hf` model) on a
model codex exported and on task files, and writes what codex's parity test
compares against:

- `<out>/results.json`: the harness's own results (its schema);
- `<out>/golden.json`: per task, per document, every request's response
  (log-likelihood and is-greedy, rolling log-likelihood, or generated text),
  the per-document metrics, SHA-256 of each request's text arguments, and
  the harness's wall time.

Task files are copied with their `data_files` made absolute (the harness
reads them relative to the working directory; codex relative to the task
file), so the same YAML serves both.

Usage: python scripts/goldens/tasks_goldens.py MODEL_DIR OUT_DIR TASK_DIR... [--tasks a,b] [--batch-size 16]
Needs: pip install lm-eval==0.4.9 torch transformers
"""
import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml


def absolutize(src: Path, dst: Path):
    """Copies every YAML under src into dst, with data_files absolute."""
    for f in sorted(src.rglob("*.yaml")):
        text = f.read_text(encoding="utf-8")
        cfg = yaml.safe_load(text)
        files = (cfg or {}).get("dataset_kwargs", {}) or {}
        files = files.get("data_files")
        if files is not None:
            def fix(p):
                return str((f.parent / p).resolve())
            if isinstance(files, dict):
                files = {k: ([fix(x) for x in v] if isinstance(v, list) else fix(v)) for k, v in files.items()}
            elif isinstance(files, list):
                files = [fix(x) for x in files]
            else:
                files = fix(files)
            cfg["dataset_kwargs"]["data_files"] = files
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")


def task_names(root: Path):
    names = []
    for f in sorted(root.rglob("*.yaml")):
        cfg = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        if "group" in cfg and isinstance(cfg.get("task"), list):
            names.append(cfg["group"])
        elif isinstance(cfg.get("task"), str):
            names.append(cfg["task"])
    grouped = set()
    for f in sorted(root.rglob("*.yaml")):
        cfg = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        if isinstance(cfg.get("task"), list):
            grouped.update(t for t in cfg["task"] if isinstance(t, str))
    return [n for n in names if n not in grouped]


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(x):
    if isinstance(x, tuple):
        return [plain(v) for v in x]
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if hasattr(x, "item"):
        return x.item()
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("task_dirs", nargs="+")
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()

    import lm_eval
    from lm_eval.tasks import TaskManager

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for i, d in enumerate(args.task_dirs):
            dst = Path(tmp) / str(i)
            absolutize(Path(d), dst)
            names += task_names(dst)
        if args.tasks:
            names = args.tasks.split(",")
        tm = TaskManager(include_path=tmp, include_defaults=False)
        start = time.perf_counter()
        res = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={args.model},dtype=float32",
            tasks=names,
            task_manager=tm,
            batch_size=args.batch_size,
            device="cpu",
            log_samples=True,
            limit=args.limit,
        )
        seconds = time.perf_counter() - start
    samples = res.pop("samples")
    with open(out / "results.json", "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, default=str, ensure_ascii=False)
    golden = {"seconds": seconds, "tasks": {}}
    requests = 0
    for task, docs in samples.items():
        rows = []
        for s in sorted(docs, key=lambda s: (s["filter"], s["doc_id"])):
            rows.append({
                "doc_id": s["doc_id"],
                "filter": s["filter"],
                # SHA-256 of each request's text arguments (context, continuation).
                "arguments": [[sha(x) for x in a if isinstance(x, str)] for a in s["arguments"]],
                "resps": plain([r[0] for r in s["resps"]]),
                "filtered_resps": plain(s["filtered_resps"]),
                "metrics": {m: plain(s[m]) for m in s["metrics"]},
            })
        requests += sum(len(r["resps"]) for r in rows if r["filter"] == rows[0]["filter"])
        golden["tasks"][task] = rows
    golden["requests"] = requests
    with open(out / "golden.json", "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{requests} requests in {seconds:.1f} s ({requests / seconds:.1f}/s)")


if __name__ == "__main__":
    main()
