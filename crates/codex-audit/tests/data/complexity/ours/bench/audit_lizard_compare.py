#!/usr/bin/env python3
"""Per-function cyclomatic complexity of `codex audit` against lizard's CCN on
real trees, by language: how many functions both find, how many agree, and
the most common kinds of difference with examples (for the rule table in
crates/codex-audit/src/complexity.rs and the issue note).

Usage: python audit_lizard_compare.py CODEX_BINARY LANG DIR [DIR...]
  LANG: rust, javascript, typescript, go (lizard's -l names).
Needs: pip install lizard
"""
import collections
import csv
import io
import json
import os
import subprocess
import sys
import tempfile


def codex_functions(codex, root):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([codex, "-q", "audit", root, "--out", out, "--format", "json"], check=True,
                       stdout=subprocess.DEVNULL)
        audit = json.load(open(os.path.join(out, "audit.json")))
    return {(os.path.join(root, f["path"]), f["line_start"]): f for f in audit["functions"]}


def lizard_functions(lang, root):
    out = subprocess.run([sys.executable, "-m", "lizard", "-l", lang, "--csv", root],
                         check=True, capture_output=True, text=True).stdout
    funcs = {}
    for row in csv.reader(io.StringIO(out)):
        # NLOC, CCN, token, PARAM, length, location, file, function, long_name, start, end
        if len(row) < 11:
            continue
        path, start, ccn, name = row[6], int(row[9]), int(row[1]), row[7]
        funcs[(os.path.normpath(path), start)] = (name, ccn)
    return funcs


def main():
    codex, lang, roots = sys.argv[1], sys.argv[2], sys.argv[3:]
    both = agree = only_codex = only_lizard = 0
    diffs = collections.Counter()
    examples = collections.defaultdict(list)
    for root in roots:
        root = os.path.normpath(root)
        mine = {(os.path.normpath(k[0]), k[1]): v for k, v in codex_functions(codex, root).items()}
        theirs = lizard_functions(lang, root)
        for key, (name, ccn) in theirs.items():
            f = mine.get(key)
            if f is None:
                only_lizard += 1
                continue
            both += 1
            if f["complexity"] == ccn:
                agree += 1
            else:
                d = f["complexity"] - ccn
                diffs[d] += 1
                if len(examples[d]) < 4:
                    examples[d].append(f"{key[0]}:{key[1]} {name} codex {f['complexity']} lizard {ccn}")
        only_codex += sum(1 for k in mine if k not in theirs and k[0].endswith(EXT[lang]))
    print(json.dumps({
        "language": lang, "roots": roots, "both": both, "agree": agree,
        "agree_pct": round(100 * agree / max(both, 1), 2),
        "only_codex": only_codex, "only_lizard": only_lizard,
        "differences": {str(k): v for k, v in sorted(diffs.items())},
        "examples": {str(k): v for k, v in sorted(examples.items())},
    }, indent=1))


EXT = {"rust": ".rs", "javascript": ".js", "typescript": ".ts", "go": ".go"}

if __name__ == "__main__":
    main()
