#!/usr/bin/env bash
# The GPU check: run from the repository root on a machine with an NVIDIA GPU,
# PyTorch, and nothing reachable, after `cargo xtask gpu` built
# target/gpu/bundle.tar.xz here and it was carried along. Within 8 minutes:
#
#   1. the model conformance fixtures (transformers logits, greedy generation with
#      and without the cache, a backward pass) on `cuda`, and on `wgpu` through the
#      NVIDIA Vulkan driver with the carried loader;
#   2. the embedded default `codex train` on the CPU, on `cuda` in f32 and with
#      `train.precision=bf16`: validation loss of each, tokens/s, NVML samples in
#      system.ndjson;
#   3. the training benchmark of a gpt2-small-sized Llama-style model
#      (12 layers, d_model 768, 12 heads, d_ff 2048, vocab 50304, context 1024,
#      batch 8) for codex and PyTorch eager on the same GPU, f32 and bf16;
#   4. where the time goes: cubecl's per-kernel profile of codex's bf16 loop
#      on that shape (summarised by scripts/gpu/profile_summary.py), and
#      torch.profiler's of PyTorch's;
#   5. a checkpoint written on the GPU resumed on the CPU, and the reverse.
#
# Every stage has its own time limit and the script goes on past a failed one;
# each stage's output is in target/gpu/out (and, under the device tool, in
# $OUT/details.tar.gz), and summary.md gathers the numbers. `--stages LIST`
# (comma-separated: conformance,default,bench,profile,resume) runs a subset;
# `CODEX_GPU_DEVICE=wgpu` points codex's side of stages 2 to 5 at wgpu, and
# `CODEX_GPU_SHAPE="--layers 2 ..."` replaces the benchmark's shape, which is
# how the script itself is tested on a machine without an NVIDIA GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
# Every stage's output goes to target/gpu/out; where the device tool's $OUT is
# set (at most 8 files come back from it), summary.md, check.log and a tarball
# of the rest are copied there at the end.
out="$repo/target/gpu/out"
rm -rf "$out"
mkdir -p "$out"
stages="conformance,default,bench,profile,resume"
if [ "${1:-}" = "--stages" ]; then
  stages="${2:?--stages needs a list}"
fi
gpu="${CODEX_GPU_DEVICE:-cuda}"
python="${CODEX_GPU_PYTHON:-python3}"
bundle="$repo/target/gpu/bundle.tar.xz"
summary="$out/summary.md"
log="$out/check.log"
: >"$log"
began=$(date +%s)

say() { echo "$*" | tee -a "$log"; }
wants() { case ",$stages," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# stage NAME LIMIT_SECONDS COMMAND...: runs it with its output in $out/NAME.log,
# and records the exit status and the time. No stage runs past the whole
# check's budget (CODEX_GPU_BUDGET seconds, 450 unless set), so the summary is
# always written; a stage that would get under 15 s is skipped.
budget="${CODEX_GPU_BUDGET:-450}"
stage() {
  local name=$1 limit=$2
  shift 2
  local t0 rc left
  t0=$(date +%s)
  left=$((budget - (t0 - began)))
  if [ "$left" -lt "$limit" ]; then
    limit=$left
  fi
  if [ "$limit" -lt 15 ]; then
    say "== $name: skipped, the check's ${budget}s budget is spent"
    echo "| $name | skipped | 0 |" >>"$out/stages.md"
    return 124
  fi
  say "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  local took=$(($(date +%s) - t0))
  tail -n 5 "$out/$name.log" | sed 's/^/   /' | tee -a "$log"
  say "   -> exit $rc in ${took}s"
  echo "| $name | $rc | $took |" >>"$out/stages.md"
  return $rc
}

# Unpack the bundle.
if [ ! -f "$bundle" ]; then
  say "no $bundle: run \`cargo xtask gpu\` on the build machine and carry target/gpu/bundle.tar.xz"
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if command -v xz >/dev/null 2>&1; then
  xz -dc "$bundle" | tar -C "$work" -xf -
else
  "$python" -c 'import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])' \
    "$bundle" "$work"
fi
bin="$work/bin"
codex="$bin/codex"
cat "$work/manifest.txt" | tee -a "$log"
# The carried Vulkan loader (used only where the machine has none); libcuda and
# NVRTC come from the driver and the CUDA toolkit.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
for d in /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES="$icd"
      break
    fi
  done
fi
echo "| stage | exit | seconds |" >"$out/stages.md"
echo "|---|---|---|" >>"$out/stages.md"
(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true) | tee "$out/gpu.txt" | tee -a "$log"
stage system 60 "$codex" system

# 1. Conformance: one backend at a time, so that one failing does not hide the other.
if wants conformance; then
  for backend in cuda wgpu; do
    CODEX_MODEL_FIXTURES="$repo/tests/data/model" CODEX_TEST_BACKEND=$backend \
      stage "conformance-$backend" 150 "$bin/bench_train" --conformance
  done
fi

# summary_field FILE KEY...: a number from a JSON file (nested keys), or "-".
json_field() {
  "$python" - "$@" <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2:]:
        v = v[k]
    print(f"{v:.4f}" if isinstance(v, float) else v)
except Exception:
    print("-")
EOF
}

# 2. The embedded default, on the CPU and the GPU.
if wants default; then
  for variant in "$gpu" "$gpu-bf16" cpu; do
    dir="$work/default-$variant"
    mkdir -p "$dir"
    device=${variant%-bf16}
    precision=f32
    [ "$variant" != "$device" ] && precision=bf16
    (cd "$dir" && stage "default-$variant" 150 "$codex" --quiet train run.device="$device" \
      train.precision=$precision track.system_interval_secs=1)
    run=$(ls -d "$dir"/runs/*/ 2>/dev/null | head -n 1)
    if [ -n "$run" ]; then
      cp "$run/summary.json" "$out/default-$variant.summary.json" 2>/dev/null
      cp "$run/system.ndjson" "$out/default-$variant.system.ndjson" 2>/dev/null
    fi
  done
fi

# 3. gpt2-small-sized training, codex against PyTorch eager on the same GPU.
read -r -a shape <<<"${CODEX_GPU_SHAPE:---layers 12 --d-model 768 --heads 12 --d-ff 2048 --vocab 50304 --context 1024 --batch 8}"
if wants bench; then
  # Dense peaks from NVIDIA's datasheets, in GFLOP/s: f32 on the CUDA cores (TF32
  # is off on both sides) and bf16 on the tensor cores; H100 SXM and H200 share them.
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
  case "$name" in
    *H100*PCIe*) peak_f32=51200 peak_bf16=756000 ;;
    *H100* | *H200*) peak_f32=66900 peak_bf16=989400 ;;
    *A100*) peak_f32=19500 peak_bf16=312000 ;;
    *) peak_f32=0 peak_bf16=0 ;;
  esac
  for precision in f32 bf16; do
    peak=$peak_f32
    [ $precision = bf16 ] && peak=$peak_bf16
    peak_args=()
    [ "$peak" != 0 ] && peak_args=(--peak-gflops "$peak")
    stage "bench-codex-$precision" 150 "$bin/bench_train" "${shape[@]}" --steps 10 \
      --device "$gpu" --precision $precision "${peak_args[@]}"
    stage "bench-torch-$precision" 120 "$python" scripts/bench/train_torch.py "${shape[@]}" \
      --steps 10 --warmup 3 --device cuda --precision $precision
  done
fi

# 4. Where the time goes, in bf16. cubecl times every kernel it launches when
#    a cubecl.toml in the working directory asks it to (each launch then waits
#    for its timing, so this run is slower than the benchmark's); the summary
#    keeps the second half of the run, past initialisation and autotuning.
if wants profile; then
  dir="$work/profile"
  mkdir -p "$dir"
  printf '[profiling]\nlogger = { level = "basic", file = "%s" }\n' "$out/profile-codex.log" >"$dir/cubecl.toml"
  (cd "$dir" && stage profile-codex-bf16 120 "$bin/bench_train" "${shape[@]}" --steps 8 \
    --device "$gpu" --precision bf16 --loop-only)
  "$python" scripts/gpu/profile_summary.py "$out/profile-codex.log" >"$out/profile-codex.md" 2>&1
  stage profile-torch-bf16 90 "$python" scripts/bench/train_torch.py "${shape[@]}" --steps 3 \
    --warmup 3 --device cuda --precision bf16 --profile-out "$out/profile-torch.txt"
fi

# 5. Across devices: 40 steps on one, resumed to 80 on the other.
if wants resume; then
  small=(model.n_layer=2 train.max_steps=40 train.warmup_steps=5 train.eval_every=20
    train.checkpoint_every=20 data.synthetic_bytes=1000000)
  for pair in "$gpu:cpu" "cpu:$gpu"; do
    first=${pair%%:*}
    second=${pair##*:}
    dir="$work/resume-$first-$second"
    mkdir -p "$dir"
    (cd "$dir" && stage "resume-$first-then-$second" 150 bash -c '
      set -e
      "$1" --quiet train run.device="$2" "${@:4}"
      "$1" --quiet train --resume latest run.device="$3" train.max_steps=80' \
      resume "$codex" "$first" "$second" "${small[@]}")
    run=$(ls -d "$dir"/runs/*/ 2>/dev/null | head -n 1)
    [ -n "$run" ] && cp "$run/summary.json" "$out/resume-$first-$second.summary.json" 2>/dev/null
  done
fi

# The summary.
{
  echo "# GPU check"
  echo
  echo '```'
  cat "$work/manifest.txt"
  cat "$out/gpu.txt"
  echo '```'
  echo
  cat "$out/stages.md"
  echo
  if wants conformance; then
    echo "## Conformance (max |codex - transformers| over the logits)"
    echo
    grep -h "max |codex" "$out"/conformance-*.log 2>/dev/null | sed 's/^/- /'
    echo
  fi
  if wants default; then
    echo "## Embedded default"
    echo
    echo "| run | steps | validation loss | tokens/s | train s |"
    echo "|---|---|---|---|---|"
    for variant in cpu "$gpu" "$gpu-bf16"; do
      f="$out/default-$variant.summary.json"
      echo "| $variant | $(json_field "$f" steps) | $(json_field "$f" validation loss) | $(json_field "$f" tokens_per_second) | $(json_field "$f" train_seconds) |"
    done
    echo
    echo "NVML samples in system.ndjson of the $gpu run: $(grep -c '"gpu0_utilization_percent"' "$out/default-$gpu.system.ndjson" 2>/dev/null || echo 0); the largest utilisation and memory:"
    "$python" - "$out/default-$gpu.system.ndjson" <<'EOF'
import json, sys
best = {}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        k, v = r.get("name") or r.get("key"), r.get("value")
        if k and k.startswith("gpu0_") and isinstance(v, (int, float)):
            best[k] = max(best.get(k, v), v)
except Exception as e:
    print(f"- unreadable: {e}")
for k, v in sorted(best.items()):
    print(f"- {k}: {v:g}")
EOF
    echo
  fi
  if wants resume; then
    echo "## Resume across devices"
    echo
    for pair in "$gpu-cpu" "cpu-$gpu"; do
      f="$out/resume-$pair.summary.json"
      echo "- $pair: steps $(json_field "$f" steps), started at $(json_field "$f" started_at_step), validation loss $(json_field "$f" validation loss)"
    done
    echo
  fi
  if wants bench; then
    echo "## Training benchmark (${shape[*]})"
    echo
    echo '```'
    cat "$out"/bench-*.log 2>/dev/null | grep '^{'
    echo '```'
  fi
  if wants profile; then
    echo
    echo "## Profile of codex's bf16 loop (cubecl)"
    echo
    cat "$out/profile-codex.md" 2>/dev/null
    echo
    echo "## Profile of PyTorch's bf16 step (torch.profiler)"
    echo
    echo '```'
    head -n 40 "$out/profile-torch.txt" 2>/dev/null
    echo '```'
  fi
  echo
  echo "Whole check: $(($(date +%s) - began)) s"
} >"$summary" 2>&1
cat "$summary"
if [ -n "${OUT:-}" ] && [ "$OUT" != "$out" ]; then
  mkdir -p "$OUT"
  cp "$summary" "$log" "$OUT"/
  tar -C "$out" -czf "$OUT/details.tar.gz" .
fi
