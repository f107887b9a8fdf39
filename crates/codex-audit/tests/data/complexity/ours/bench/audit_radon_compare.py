"""codex audit's Python complexity against radon's, function by function, on a whole tree.

    python -m venv radon-venv && radon-venv/bin/pip install radon==6.0.1
    radon-venv/bin/python scripts/bench/audit_radon_compare.py /usr/lib/python3.11 [--codex target/release/codex]

Runs `codex audit TREE --no-cache` into a temporary directory, reads its
`audit.json`, runs radon's `cc_visit` on every Python file codex analyzed, and
matches every function, method and closure radon reports (methods named
`Class.method`, as codex names them) with codex's function of the same file,
name and first line. Prints how many agree, and every one that does not; exits
1 when any differs or is missing. Files radon cannot parse are listed and left
out (codex fails them too, or reports what it could read: said per file).
Functions codex reports that radon drops (methods of classes nested in a class
or a function) are counted apart.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import radon
from radon.complexity import cc_visit
from radon.visitors import Class


def flatten(blocks):
    for b in blocks:
        if isinstance(b, Class):
            continue
        name = f"{b.classname}.{b.name}" if b.classname else b.name
        yield (name, b.lineno), b.complexity
        yield from flatten(b.closures)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tree")
    ap.add_argument("--codex", default="target/release/codex")
    args = ap.parse_args()
    tree = os.path.abspath(args.tree)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [args.codex, "--quiet", "audit", tree, "--out", out, "--no-cache", "--format", "json"],
            check=True,
        )
        with open(os.path.join(out, "audit.json"), encoding="utf-8") as f:
            audit = json.load(f)
    codex = {}
    for fn in audit["functions"]:
        codex.setdefault(fn["path"], {})[(fn["name"], fn["line_start"])] = fn["complexity"]
    failed = {e["context"] for e in audit.get("errors", []) if e.get("step") == "complexity"}
    python = sorted(f["path"] for f in audit["files"] if f.get("language") == "Python")

    agree = differ = missing = extra = 0
    radon_failed = []
    for path in python:
        try:
            with open(os.path.join(tree, path), encoding="utf-8") as f:
                blocks = dict(flatten(cc_visit(f.read())))
        except (SyntaxError, ValueError, UnicodeDecodeError) as e:
            radon_failed.append((path, type(e).__name__, path in failed))
            continue
        ours = codex.get(path, {})
        for key, cc in sorted(blocks.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if key not in ours:
                missing += 1
                print(f"missing  {path}:{key[1]} {key[0]} (radon {cc}){' [codex failed the file]' if path in failed else ''}")
            elif ours[key] != cc:
                differ += 1
                print(f"differs  {path}:{key[1]} {key[0]}: codex {ours[key]}, radon {cc}")
            else:
                agree += 1
        extra += len(set(ours) - set(blocks))
    total = agree + differ + missing
    for path, err, codex_failed in radon_failed:
        print(f"radon cannot parse {path} ({err}); codex {'fails it too' if codex_failed else 'reports what it read'}")
    print(
        f"radon {radon.__version__}: {len(python) - len(radon_failed)} files, {total} functions; "
        f"codex agrees on {agree} ({100.0 * agree / max(total, 1):.2f}%), differs on {differ}, misses {missing}; "
        f"codex also reports {extra} functions radon drops (methods of nested classes)"
    )
    sys.exit(0 if differ == 0 and missing == 0 else 1)


if __name__ == "__main__":
    main()
