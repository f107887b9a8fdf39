"""Cyclomatic complexity of codex-audit's Python fixtures as radon computes it.

    pip install radon==6.0.1
    python scripts/goldens/audit_complexity_goldens.py

Writes crates/codex-audit/tests/data/complexity.radon.json: for every
function, method and closure, its name (methods as `Class.method`), first
line and complexity; and under "unreported" the functions radon drops
(methods of classes nested in a class or a function), which codex reports.
"""

import ast
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


def all_functions(source):
    """(line, name) of every def, named as codex names them: methods as
    Class.method for the innermost class, closures by their own name."""
    out = []

    def walk(node, container):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{container}.{child.name}" if container else child.name
                out.append((child.lineno, name))
                walk(child, None)
            elif isinstance(child, ast.ClassDef):
                walk(child, child.name)
            else:
                walk(child, container)

    walk(ast.parse(source), None)
    return out


def main():
    out = {"radon": radon.__version__, "files": {}, "unreported": {}}
    for name in sorted(os.listdir(FIXTURES)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
            source = f.read()
        blocks = sorted(flatten(cc_visit(source)), key=lambda b: (b["line"], b["name"]))
        out["files"][name] = blocks
        reported = {(b["line"], b["name"]) for b in blocks}
        out["unreported"][name] = [
            {"name": n, "line": l} for l, n in sorted(all_functions(source)) if (l, n) not in reported
        ]
    with open(os.path.join(ROOT, "crates", "codex-audit", "tests", "data", "complexity.radon.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
