#!/usr/bin/env bash
# A long fuzzing campaign of the `.spde` front end (issue 2: 10 million
# executions under ASan + UBSan), resumable and countable:
#
#   tools/fuzz.sh [--runs N] [--jobs J] [--build-only]     defaults: 10000000, nproc
#
# Builds build-fuzz/ (clang-14, -DSPDEC_FUZZ=ON) when its target is missing,
# then runs J libFuzzer workers of N/J executions each on the checked-in seeds
# plus the scratch corpus build-fuzz/fuzz-corpus/fuzz_frontend (new inputs land
# there and are kept for the next campaign). Logs and crash reproducers go to
# fuzz-logs/<timestamp>/. Prints the executions that ran and exits 1 when a
# worker found a crash, a leak, an out-of-memory or a timeout (slow-unit-*
# files are only slow inputs: libFuzzer's report, not a failure). Reproduce a
# finding with `build-fuzz/tests/fuzz/fuzz_frontend FILE`, then add the file to
# tests/lang/corpus/regressions/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=10000000
jobs="$(nproc)"
build_only=0
while (($#)); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fuzz: unknown argument $1" >&2; exit 2 ;;
  esac
done

build="${SPDEC_FUZZ_BUILD_DIR:-build-fuzz}"
target="$build/tests/fuzz/fuzz_frontend"
if [[ ! -x "$target" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSPDEC_FUZZ=ON \
    -DSPDEC_WITH_TORCH=OFF -DSPDEC_WITH_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target fuzz_frontend
((build_only)) && exit 0

logs="fuzz-logs/$(date -u +%Y%m%dT%H%M%SZ)"
scratch="$build/fuzz-corpus/fuzz_frontend"
mkdir -p "$logs" "$scratch"
per_job=$(((runs + jobs - 1) / jobs))
echo "fuzz: $jobs workers x $per_job executions (ASan + UBSan), logs in $logs"
# malloc_context_size=0: no allocation stacks (a third of the time otherwise);
# a finding is re-run by hand with full reports.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
# -jobs/-workers: independent processes sharing the corpus directory; each
# writes fuzz-<k>.log in the working directory, hence the cd.
abs_target="$(realpath "$target")"
abs_scratch="$(realpath "$scratch")"
root="$(pwd)"
(
  cd "$logs"
  "$abs_target" -jobs="$jobs" -workers="$jobs" -runs="$per_job" -max_len=4096 -timeout=300 \
    -rss_limit_mb=2048 -dict="$root/tests/fuzz/spde.dict" -artifact_prefix="./" \
    -print_final_stats=1 "$abs_scratch" "$root/tests/fuzz/corpus" "$root/library" \
    "$root/tests/lang/corpus/good" "$root/tests/lang/corpus/bad" >/dev/null 2>&1 || true
)

total=0
for log in "$logs"/fuzz-*.log; do
  # A worker that was stopped early has no "Done N runs" line; its last
  # status line ("#N ...") still counts what it executed.
  done_runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)"
  [[ -n "$done_runs" ]] || done_runs="$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)"
  total=$((total + ${done_runs:-0}))
done
echo "fuzz: $total executions in $(ls "$logs"/fuzz-*.log | wc -l) workers"
shopt -s nullglob
findings=("$logs"/crash-* "$logs"/leak-* "$logs"/oom-* "$logs"/timeout-*)
if ((${#findings[@]})); then
  echo "fuzz: FINDINGS: ${findings[*]}" >&2
  exit 1
fi
echo "fuzz: no crash, leak, out-of-memory or timeout"
