#!/usr/bin/env python3
"""Which crates CI's GPU build compiles again although the test gate built them.

CI builds the workspace twice in the dev profile: the test gate
(`cargo test --workspace`) and the GPU step (the same selection with
`--features codex-cli/cuda,codex-cli/wgpu`). Cargo shares a unit between the two
only when its package, target, profile, features and dependencies are equal. The
GPU backends turn on features of shared dependencies (serde's `rc`,
proc-macro2's `span-locations`, ...), and every crate above such a dependency is
then compiled twice; xtask/unify/Cargo.toml lists those features so that both
builds have them.

This script compares the two unit graphs (cargo's `--unit-graph`, an unstable
flag, hence RUSTC_BOOTSTRAP=1; nothing is built) and prints, for each package
that both graphs have but the GPU graph needs as a different unit, the features
it has in each. Packages of burn and cubecl, the workspace's own and those only
the GPU graph has are expected. With --check it exits 1 when any other package
is listed, so that a dependency update cannot quietly bring the rebuilds back.

    python3 scripts/check/unit_graph_diff.py [--check]
"""
import hashlib
import json
import os
import subprocess
import sys

GPU_FEATURES = "codex-cli/cuda,codex-cli/wgpu"
GPU_TARGETS = ["--test", "backends", "--test", "resume", "--test", "cli"]
# The profile overrides of CI's GPU build (it leaves some of the crates it
# compiles again unoptimised); cargo runs in the repository root.
GPU_CONFIG = ["--config", ".ci/gpu-build.toml"]
EXPECTED = ("burn", "cubecl")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def unit_graph(extra):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    cmd = ["cargo", "test", "--workspace", "--locked", *extra, "-Z", "unstable-options", "--unit-graph"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"unit_graph_diff: `{' '.join(cmd)}` failed:\n{out.stderr}")
    return json.loads(out.stdout)["units"]


def identities(units):
    """A hash per unit over what cargo's metadata hash covers, recursively."""
    memo = {}

    def ident(i):
        if i not in memo:
            u, p = units[i], units[i]["profile"]
            own = [u["pkg_id"], u["target"]["name"], ",".join(u["target"]["kind"]), u["mode"],
                   ",".join(sorted(u["features"])), p["name"], str(p["opt_level"]), str(p["debuginfo"])]
            deps = sorted(ident(d["index"]) for d in u["dependencies"])
            memo[i] = hashlib.sha1(("|".join(own) + "#" + ",".join(deps)).encode()).hexdigest()
        return memo[i]

    return [ident(i) for i in range(len(units))]


def package(unit):
    pkg = unit["pkg_id"]
    if pkg.startswith("path+"):
        return None  # a workspace crate
    return pkg.split("#")[-1]


def main():
    check = "--check" in sys.argv[1:]
    base = unit_graph([])
    gpu = unit_graph(["--features", GPU_FEATURES, *GPU_CONFIG, *GPU_TARGETS])
    built = set(identities(base))
    base_features = {}
    for u in base:
        if u["mode"] == "build" and package(u):
            base_features.setdefault(package(u), set()).add(tuple(sorted(u["features"])))
    extra = {}
    gpu_ids = identities(gpu)
    for u, ident in zip(gpu, gpu_ids):
        name = package(u)
        if ident in built or name is None or name.startswith(EXPECTED) or name not in base_features:
            continue
        if u["mode"] != "build" or not {"lib", "proc-macro"} & set(u["target"]["kind"]):
            continue
        feats = tuple(sorted(u["features"]))
        if feats in base_features[name]:
            continue  # same features, rebuilt only because a dependency was
        extra.setdefault(name, set()).add(feats)
    new = sum(1 for i in gpu_ids if i not in built)
    print(f"the GPU build needs {new} units that the test gate's build does not have")
    if not extra:
        print("every package both builds have is built with the same features in both")
        return 0
    print("packages the GPU build needs with other features than the test gate's build:")
    for name in sorted(extra):
        for feats in sorted(extra[name]):
            print(f"  {name}: GPU {list(feats)}; test gate {[list(f) for f in sorted(base_features[name])]}")
    return 1 if check else 0


if __name__ == "__main__":
    sys.exit(main())
