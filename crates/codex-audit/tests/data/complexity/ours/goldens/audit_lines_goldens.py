"""Line counts of codex-audit's fixtures as tokei reports them.

    cargo install tokei --version 15.0.0 --locked
    python scripts/goldens/audit_lines_goldens.py [path/to/tokei]

tokei counts Rust doc comments (`///`, `//!`) as embedded Markdown; those
lines are added to the comments here, since codex counts them as comments.
Writes crates/codex-audit/tests/data/lines.tokei.json.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "crates", "codex-audit", "tests", "data", "lines")


def blob_lines(blobs):
    return sum(b["code"] + b["comments"] + b["blanks"] + blob_lines(b["blobs"]) for b in blobs.values())


def main(tokei):
    version = subprocess.run([tokei, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run([tokei, "--files", "--output", "json", "."], cwd=FIXTURES, capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    files = {}
    for lang, v in data.items():
        if lang == "Total":
            continue
        for r in v["reports"]:
            s = r["stats"]
            name = os.path.normpath(r["name"])
            files[name] = {"code": s["code"], "comment": s["comments"] + blob_lines(s["blobs"]), "blank": s["blanks"]}
    golden = {"tokei": version, "files": dict(sorted(files.items()))}
    with open(os.path.join(ROOT, "crates", "codex-audit", "tests", "data", "lines.tokei.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tokei")
