"""Reads a codex run's TensorBoard event files with the `tensorboard` package
and checks every scalar (tag, step, value) against metrics.ndjson and
system.ndjson. Run by .ci/run:

    python scripts/check/tensorboard_check.py RUN_DIR
"""

import collections
import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32(x):
    """The value as TensorBoard stores it; NaN (JSON null) compares as a string."""
    if x is None or x != x:
        return "nan"
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main(run):
    expected = collections.Counter()
    for name in ("metrics.ndjson", "system.ndjson"):
        path = os.path.join(run, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                expected[(f"{r['split']}/{r['name']}", r["step"], f32(r["value"]))] += 1
    files = glob.glob(os.path.join(run, "events.out.tfevents.*"))
    if not files:
        sys.exit(f"no event file in {run}")
    got = collections.Counter()
    for path in files:
        acc = event_accumulator.EventAccumulator(path, size_guidance={event_accumulator.SCALARS: 0}, purge_orphaned_data=False)
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for e in acc.Scalars(tag):
                got[(tag, e.step, f32(e.value))] += 1
    if got != expected:
        missing = expected - got
        extra = got - expected
        sys.exit(f"mismatch: {sum(missing.values())} scalars missing from TensorBoard (e.g. {list(missing)[:3]}), {sum(extra.values())} unexpected (e.g. {list(extra)[:3]})")
    print(f"tensorboard read {sum(got.values())} scalars over {len({k[0] for k in got})} tags from {len(files)} event file(s); every value and step matches")


if __name__ == "__main__":
    main(sys.argv[1])
