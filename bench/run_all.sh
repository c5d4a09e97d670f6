#!/usr/bin/env bash
# Every benchmark in one command: the generated kernels against LibTorch ops
# and the memory roofline (kernels_bench), then a training step's split and
# sampling throughput (train_step_bench). Tables on stdout, one JSON file.
#
#   bench/run_all.sh [--quick] [--device cpu|cuda] [--json FILE]   (default bench-results.json)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${SPDEC_BUILD_DIR:-build}"
json="bench-results.json"
args=()
while (($#)); do
  case "$1" in
    --json) json="$2"; shift 2 ;;
    --device) args+=("--device" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
for b in kernels_bench train_step_bench; do
  [[ -x "$build/bench/$b" ]] || { echo "bench: $build/bench/$b not built (tools/setup.sh)" >&2; exit 1; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
kernel_args=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --quick) kernel_args+=("--quick") ;;
    --device) kernel_args+=("--device" "${args[i + 1]}") ;;
  esac
done
echo "== kernels_bench"
"$build/bench/kernels_bench" "${kernel_args[@]}" --json "$tmp/kernels.json"
echo
echo "== train_step_bench"
"$build/bench/train_step_bench" "${args[@]}" --json "$tmp/train.json"
printf '{"kernels": %s,\n "training_and_sampling": %s}\n' "$(cat "$tmp/kernels.json")" \
  "$(cat "$tmp/train.json")" >"$json"
echo
echo "bench: wrote $json"
