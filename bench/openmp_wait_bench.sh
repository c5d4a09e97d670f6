#!/usr/bin/env bash
# OpenMP waiting and shared cores: ms per training step of `spdec run train`
# (the quickstart's spec, 2 threads, steps 10..60 from train_log.jsonl's
# clock, so start-up is left out) for each OpenMP wait setting, run alone and
# as two runs started together. Settings are NAME=VAR=VALUE or NAME=unset
# (libgomp's default); `spdec run`'s own default (GOMP_SPINCOUNT=1000 unless
# GOMP_SPINCOUNT or OMP_WAIT_POLICY is set) applies to "unset" too, so the
# default row passes GOMP_SPINCOUNT=300000, libgomp's own spin count.
# Repetitions interleave the settings. Stop background work for the "alone"
# column: on a loaded machine the numbers say what that machine gave.
#
#   bench/openmp_wait_bench.sh [--reps 2] [--alone-only] [SETTING ...]
#   default settings: libgomp=GOMP_SPINCOUNT=300000 spin10k=GOMP_SPINCOUNT=10000
#                     spin1k=GOMP_SPINCOUNT=1000 passive=OMP_WAIT_POLICY=PASSIVE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="$(realpath "${SPDEC_BUILD_DIR:-build}")"
reps=2
pairs=1
settings=()
while (($#)); do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --alone-only) pairs=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *=*) settings+=("$1"); shift ;;
    *) echo "openmp_wait_bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
((${#settings[@]})) || settings=(libgomp=GOMP_SPINCOUNT=300000 spin10k=GOMP_SPINCOUNT=10000
                                spin1k=GOMP_SPINCOUNT=1000 passive=OMP_WAIT_POLICY=PASSIVE)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

train() {  # SETTING_ENV DIR: one 60-step training; prints ms per step over steps 10..60
  local envs=()
  [ "$1" != unset ] && envs=("$1")
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "${envs[@]}" \
    SPDEC_CACHE_DIR="${SPDEC_CACHE_DIR:-$build/kernel-cache}" "$build/spdec" run train \
    specs/quickstart.toml "run.dir=\"$2\"" train.steps=60 train.log_every=10 \
    train.checkpoint_every=1000 run.threads=2 >"$2.log" 2>&1 ||
    { echo "openmp_wait_bench: training failed, log $2.log:" >&2; tail -5 "$2.log" >&2; exit 1; }
  python3 - "$2/train_log.jsonl" <<'PY'
import json, sys
t = {r["step"]: r["time"] for r in map(json.loads, open(sys.argv[1]))}
print(f"{(t[60] - t[10]) / 50 * 1000:.1f}")
PY
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-10s %-28s %5s %12s %12s\n' setting env rep "alone ms" "two ms each"
for ((rep = 1; rep <= reps; ++rep)); do
  for s in "${settings[@]}"; do
    name=${s%%=*}
    env_setting=${s#*=}
    alone=$(train "$env_setting" "$scratch/$name-alone-$rep")
    pair="-"
    if ((pairs)); then
      train "$env_setting" "$scratch/$name-a-$rep" >"$scratch/a" &
      train "$env_setting" "$scratch/$name-b-$rep" >"$scratch/b" &
      wait
      pair="$(cat "$scratch/a") $(cat "$scratch/b")"
    fi
    printf '%-10s %-28s %5s %12s %12s\n' "$name" "$env_setting" "$rep" "$alone" "$pair"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
