"""Cyclomatic complexity of codex-audit's Python fixtures as radon computes it.

    pip install radon==6.0.1
    python scripts/goldens/audit_complexity_goldens.py

Writes crates/codex-audit/tests/data/complexity.radon.json: for every
function, method and closure, its name (methods as `Class.method`), first
line and complexity.
"""

import json
import os

import radon
from radon.complexity import cc_visit
from radon.visitors import Class

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "crates", "codex-audit", "tests", "data", "complexity")


def flatten(blocks):
    for b in blocks:
        if isinstance(b, Class):
            continue
        name = f"{b.classname}.{b.name}" if b.classname else b.name
        yield {"name": name, "line": b.lineno, "complexity": b.complexity}
        yield from flatten(b.closures)


def main():
    out = {"radon": radon.__version__, "files": {}}
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
            blocks = cc_visit(f.read())
        out["files"][name] = sorted(flatten(blocks), key=lambda b: (b["line"], b["name"]))
    with open(os.path.join(ROOT, "crates", "codex-audit", "tests", "data", "complexity.radon.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
