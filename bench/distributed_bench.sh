#!/usr/bin/env bash
# Data-parallel training throughput (issue 20): images/s of `spdec run train`
# on 1 rank and on N ranks of this machine (--nproc N, Gloo, 1 thread per
# rank), the parallel efficiency (throughput / (threads in all × one
# thread's)), and the time the gradient all-reduce takes per step and its
# share of the training time (rank 0's log line; the wait for the slowest
# rank included). For comparison, one rank with as many threads as the N
# ranks have in all (LibTorch's intra-op parallelism).
#
# The rate is measured on the training loop alone, from train_log.jsonl's
# clock: (steps between the first and the last logged step) × batch /
# (seconds between them), so the start-up (kernels, prior fit) is left out.
# The machine's load average is printed before and after: on a shared,
# loaded machine the numbers say what that machine gave, nothing more.
#
#   bench/distributed_bench.sh [--ranks "1 2"] [--steps 240] [--batch 32]
#                              [--spec specs/quickstart.toml] [--json FILE] [KEY=VALUE ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${SPDEC_BUILD_DIR:-build}"
ranks_list="1 2"
steps=240
batch=32
spec="specs/quickstart.toml"
json="distributed-bench.json"
extra=()
while (($#)); do
  case "$1" in
    --ranks) ranks_list="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --spec) spec="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
[[ -x "$build/spdec" && -x "$build/spdec-run" ]] || {
  echo "distributed_bench: $build/spdec and $build/spdec-run are not built" >&2
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log_every=$((steps / 6 > 0 ? steps / 6 : 1))
common=(train.steps="$steps" train.batch_size="$batch" train.log_every="$log_every"
        train.checkpoint_every=100000 train.sample_every=0 train.warmup=0 "${extra[@]}")

# rate DIR: images/s between the first and the last logged step.
rate() {
  awk -v batch="$batch" -F'[:,}]' '
    { for (i = 1; i < NF; i++) { if ($i ~ /"step"/) s = $(i + 1); if ($i ~ /"time"/) t = $(i + 1) }
      if (NR == 1) { s0 = s; t0 = t } }
    END { if (t > t0) printf "%.2f", (s - s0) * batch / (t - t0); else print "nan" }' \
    "$1/train_log.jsonl"
}

echo "distributed_bench: $spec, $steps steps of a global batch of $batch, ${extra[*]:-no overrides}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
results=()
base=""
printf '%-22s %10s %12s %12s\n' "setup" "images/s" "efficiency" "all-reduce"
run_one() {  # LABEL RANKS THREADS
  local label="$1" ranks="$2" threads="$3" out="$tmp/$1"
  local nproc=()
  ((ranks > 1)) && nproc=(--nproc "$ranks")
  "$build/spdec" run train "$spec" "${nproc[@]}" "run.dir=\"$out\"" run.threads="$threads" \
    "${common[@]}" >"$out.txt" 2>&1 || { echo "$label failed:"; cat "$out.txt"; exit 1; }
  local r share efficiency
  r=$(rate "$out")
  share=$(grep -o '[0-9.]* ms per step (the wait for the slowest rank included), [0-9.]* %' \
    "$out.txt" | sed 's/ (the wait for the slowest rank included)//' | tail -n 1 || true)
  if [[ "$label" == "1 rank x 1 thread" ]]; then base="$r"; fi
  # Against one thread's rate times the threads used in all.
  efficiency=$(awk -v r="$r" -v b="$base" -v n="$((ranks * threads))" \
    'BEGIN { if (b > 0) printf "%.2f", r / (n * b); else print "-" }')
  printf '%-22s %10s %12s %12s\n' "$label" "$r" "$efficiency" "${share:--}"
  results+=("{\"setup\": \"$label\", \"ranks\": $ranks, \"threads_per_rank\": $threads, \"images_per_s\": $r, \"efficiency\": \"$efficiency\", \"all_reduce\": \"${share}\"}")
}
for ranks in $ranks_list; do
  if ((ranks == 1)); then
    run_one "1 rank x 1 thread" 1 1
  else
    run_one "$ranks ranks x 1 thread" "$ranks" 1
  fi
done
max_ranks=$(tr ' ' '\n' <<<"$ranks_list" | sort -n | tail -n 1)
if ((max_ranks > 1)); then run_one "1 rank x $max_ranks threads" 1 "$max_ranks"; fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
{
  printf '{"spec": "%s", "steps": %s, "batch": %s, "cores": %s,\n' "$spec" "$steps" "$batch" "$(nproc)"
  printf ' "load_average_after": "%s",\n "results": [\n  %s\n ]}\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(IFS=,; echo "${results[*]}" | sed 's/},{/},\n  {/g')"
} >"$json"
echo "distributed_bench: wrote $json"
