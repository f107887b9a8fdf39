"""Summarise cubecl's kernel profile of a run, for the GPU check.

cubecl writes one line per timed kernel launch, `| <duration> | <kernel name>`,
to the file a `cubecl.toml` names (`[profiling] logger = { level = "basic",
file = ... }`), and a table of the kernels since the last one each time the host
waits for the device (a read of a loss, a norm, a checkpoint). This keeps the
launches of the second half of those intervals, past initialisation and
autotuning, and prints them as a Markdown table: each kernel's launches, total
time and share, the longest first.

    python scripts/gpu/profile_summary.py target/gpu/out/profile-codex.log [--top 25]
"""

import argparse
import collections
import re
import sys

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
LAUNCH = re.compile(r"^\| (\d+(?:\.\d+)?)(ns|µs|us|ms|s)\s*\| (.+?)\s*$")


def intervals(lines):
    """The timed launches, as (name, seconds), between two waits for the device."""
    current = []
    for line in lines:
        m = LAUNCH.match(line)
        if m:
            current.append((m[3], float(m[1]) * UNITS[m[2]]))
        elif line.startswith("|⎯") and current:
            # The closing rule of the table printed at a wait.
            yield current
            current = []
    if current:
        yield current


def short(name, width=120):
    """A kernel name cut to `width` characters. cubecl's generic kernels share
    a long prefix of type parameters (every matmul begins `MatmulEntry |
    TensorArgs | DynamicScalar | __Lhs | ...`) and differ at the end (the tiling
    and loading strategy and a hash), so the first part and as many of the last
    as fit are kept."""
    if len(name) <= width:
        return name
    parts = name.split(" | ")
    head, tail = parts[0], []
    for part in reversed(parts[1:]):
        if len(head) + len(" | ... | ") + len(" | ".join([part, *tail])) > width:
            break
        tail.insert(0, part)
    if not tail:
        return name[: width - 3] + "..."
    return " | ".join([head, "...", *tail])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    try:
        with open(a.log, encoding="utf-8", errors="replace") as f:
            spans = list(intervals(f))
    except OSError as e:
        sys.exit(f"{a.log}: {e}")
    if not spans:
        sys.exit(f"{a.log}: no timed kernel launches")
    kept = spans[len(spans) // 2 :]
    total = collections.defaultdict(float)
    count = collections.Counter()
    for span in kept:
        for name, secs in span:
            total[name] += secs
            count[name] += 1
    all_secs = sum(total.values())
    print(
        f"{sum(count.values())} launches of {len(total)} kernels in the last {len(kept)} "
        f"of {len(spans)} intervals between waits; {all_secs * 1e3:.1f} ms of kernel time."
    )
    print()
    print("| kernel | launches | ms | share |")
    print("|---|---|---|---|")
    for name, secs in sorted(total.items(), key=lambda kv: -kv[1])[: a.top]:
        shown = short(name).replace("|", "\\|")
        print(f"| {shown} | {count[name]} | {secs * 1e3:.2f} | {100 * secs / all_secs:.1f}% |")


if __name__ == "__main__":
    main()
