#!/usr/bin/env bash
# One prepared check of spdec on a GPU machine: pip's torch with CUDA (its
# wheel carries LibTorch and TorchConfig.cmake), CMake, Ninja and the CUDA
# toolkit, but no package registry. Everything it prints also goes to
# OUT/gpu_check.log, and it ends with one summary line per stage.
#
#   here (Debian):  tools/prepare_offline_deps.sh --with-data .deps
#   there:          tools/gpu_check.sh [--out DIR] [--train-s 120] [--build DIR]
#   rehearsal here: tools/gpu_check.sh --device cpu --build build --skip-build --train-s 20
#
# Stages (each timed; a failed stage is reported and the next still runs):
#   1. build     configure and build (Release, -j nproc) against pip's LibTorch
#                with the header-only dependencies of .deps (SPDEC_DEPS_DIR)
#   2. tests     the tests that run CUDA code on a GPU (the CUDA driver and
#                NVRTC JIT tests, the Philox stream on the device, compiled =
#                reference on CUDA for every kernel) and the jit/rng labels
#   3. bench     kernels_bench --device cuda: the generated kernels against
#                LibTorch eager ops and a copy kernel (the bandwidth roofline),
#                at 128x1x28x28, 128x3x64x64 and 256x3x64x64; JSON in OUT
#   4. train     specs/quickstart.toml on the GPU for --train-s seconds of
#                wall-clock (SIGTERM checkpoints it), then `run sample` of a
#                64-image grid; OUT gets samples.png and the training log
#
# With the defaults it takes about 7 minutes on one H100 (16 cores): build
# about 4, tests 1, bench 1, train 2. No stage needs the network.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

out="${OUT:-gpu-check-out}"
train_s=120
build="build-gpu"
device="cuda"
skip_build=0
while (($#)); do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --out) out="$2"; shift 2 ;;
    --train-s) train_s="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/gpu_check.log"
exec > >(tee "$log") 2>&1

summary=()
stage() {  # stage NAME COMMAND...: runs it timed, records "NAME ok|FAILED (rc) in S s"
  local name="$1" start rc
  shift
  echo "== gpu_check: $name"
  start=$(date +%s)
  "$@"
  rc=$?
  local took=$(($(date +%s) - start))
  if ((rc == 0)); then summary+=("$name: ok in ${took} s"); else summary+=("$name: FAILED (exit $rc) in ${took} s"); fi
  return 0
}

deps_dir="$PWD/.deps"
[[ -d "$deps_dir/include" ]] || ((skip_build)) || {
  echo "gpu_check: no .deps/ (run tools/prepare_offline_deps.sh --with-data .deps here first, and carry it)" >&2
  exit 1
}
if ((!skip_build)); then
  torch_prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
    echo "gpu_check: python3 cannot import torch (pip's torch with CUDA is needed)" >&2
    exit 1
  }
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
fi
if [[ "$device" == cuda ]]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true; fi

build_spdec() {
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPDEC_DEPS_DIR="$deps_dir" \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DSPDEC_WITH_CUDA=ON &&
    cmake --build "$build" -j"$(nproc)"
}

gpu_tests() {
  SPDEC_SOURCE_DIR="$PWD" SPDEC_CACHE_DIR="$PWD/$build/kernel-cache" \
    ctest --test-dir "$build" -j4 --output-on-failure --timeout 300 \
    -R 'CUDA|cuda|PTX|ptx|device' &&
    SPDEC_SOURCE_DIR="$PWD" SPDEC_CACHE_DIR="$PWD/$build/kernel-cache" \
      ctest --test-dir "$build" -j8 --output-on-failure --timeout 300 -L 'jit|rng'
}

gpu_bench() {
  local -a quick=()
  [[ "$device" == cpu ]] && quick=(--quick --kernels-only)  # a rehearsal, not a measurement
  "$build/bench/kernels_bench" --device "$device" "${quick[@]}" --json "$out/kernels_bench.json"
}

gpu_train() {
  local data="$deps_dir/datasets/fashion-mnist" run_dir="$out/train"
  local -a where=("run.dir=\"$run_dir\"" "run.device=\"$device\"")
  [[ -d "$data" ]] && where+=("data.path=\"$data\"")
  # SIGTERM after train_s: the run checkpoints and exits; that is the plan.
  timeout --signal=TERM "$train_s" "$build/spdec" run train specs/quickstart.toml "${where[@]}"
  local rc=$?
  ((rc == 0 || rc == 124 || rc == 130 || rc == 143)) || return "$rc"
  "$build/spdec" run sample specs/quickstart.toml "${where[@]}" sample.n=64 &&
    cp "$run_dir/samples.png" "$out/samples.png" &&
    cp "$run_dir/train_log.jsonl" "$out/train_log.jsonl"
}

((skip_build)) || stage build build_spdec
if [[ -x "$build/spdec" ]]; then
  stage tests gpu_tests
  stage bench gpu_bench
  stage train gpu_train
fi
echo "== gpu_check: summary"
printf '  %s\n' "${summary[@]}"
[[ "${summary[*]}" != *FAILED* ]]
