#!/usr/bin/env bash
# A training run SIGKILLed at 20 random moments and resumed each time ends
# with the loss curve of a run never interrupted, bit for bit, and an intact
# log (every step once, in order); no killed writer's temporary file is left.
#
# Why bit for bit, not within a tolerance: every random draw of step k (data
# order, times, noise, dropout) is keyed by (train.seed, k); checkpoint.pt
# holds everything else a step reads (weights, EMA, Adam's moments, the
# prior); a resume trims the log to the checkpoint's step and recomputes
# the steps after it; and on the CPU with a fixed thread count (run.threads)
# the kernels are deterministic. Any loss that differs in its last bit is a
# state the checkpoint lost or a draw that depends on history.
#
# The kill moments come from bash's RANDOM with a fixed seed, so the test is
# reproducible as far as a machine's speed allows. One kill in four lands in
# the start-up (loading, the lock, the checkpoint, the log's trim), the rest
# 1-3 logged steps into training plus 0-40 ms: inside a step, a log append
# or a checkpoint write (one per step). An attempt thus advances a few steps
# at most, so the run cannot end before the 20th kill.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

steps=120
tiny=(data.n=32 data.size=8 model.base_channels=8 "model.channel_mult=[1]"
      model.num_res_blocks=1 "model.attention_resolutions=[]" model.dropout=0.1
      train.batch_size=4 train.steps=$steps train.checkpoint_every=1 train.sample_every=0
      train.log_every=1 train.prior_fit_images=8 run.threads=1)
spec="$root/specs/fmnist_ve.toml"
now() { date +%s.%N; }
lines() { if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi; }
# uniform LO HI: a number in [LO, HI] from the next RANDOM.
uniform() { awk -v lo="$1" -v hi="$2" -v u="$RANDOM" 'BEGIN { print lo + (hi - lo) * u / 32767 }'; }

# The uninterrupted run, timed: its start-up is where the early kills go.
begin=$(now)
"$spdec" run train "$spec" "run.dir=\"$dir/straight\"" "${tiny[@]}" >"$dir/straight.txt" 2>&1 ||
  fail "the uninterrupted run exited $?: $(cat "$dir/straight.txt")"
wall=$(awk -v a="$begin" -v b="$(now)" 'BEGIN { print b - a }')
training=$(tail -n 1 "$dir/straight/train_log.jsonl" | sed -E 's/.*"time":([0-9.eE+-]+).*/\1/')
startup=$(awk -v w="$wall" -v t="$training" 'BEGIN { s = w - t; print (s > 0.5 ? s : 0.5) }')

RANDOM=16
kills=0
log="$dir/killed/train_log.jsonl"
for attempt in $(seq 40); do
  ((kills >= 20)) && break
  target=$(($(lines "$log") + 1 + RANDOM % 3))
  early=$((RANDOM % 4 == 0))
  "$spdec" run train "$spec" "run.dir=\"$dir/killed\"" "${tiny[@]}" >"$dir/attempt.txt" 2>&1 &
  pid=$!
  if ((early)); then
    sleep "$(uniform 0.2 "$(awk -v s="$startup" 'BEGIN { print 0.8 * s }')")"
  else
    while kill -0 "$pid" 2>/dev/null && (($(lines "$log") < target)); do sleep 0.01; done
    sleep "$(uniform 0 0.04)"
  fi
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  code=$?
  # 137: killed; 0: it ended first (resumed to the end); anything else failed.
  if ((code == 137)); then
    kills=$((kills + 1))
  elif ((code != 0)); then
    fail "attempt $attempt exited $code: $(cat "$dir/attempt.txt")"
  fi
done
((kills >= 20)) || fail "only $kills kills in 40 attempts: the run ended too soon"
"$spdec" run train "$spec" "run.dir=\"$dir/killed\"" "${tiny[@]}" >"$dir/last.txt" 2>&1 ||
  fail "the last resume exited $?: $(cat "$dir/last.txt")"

# The curve without its wall-clock seconds; every step 1..steps exactly once.
curve() { sed -E 's/,"time":[^,}]*//' "$1/train_log.jsonl"; }
logged_steps() { sed -E 's/.*"step":([0-9]+).*/\1/' "$1/train_log.jsonl"; }
cmp -s <(curve "$dir/straight") <(curve "$dir/killed") ||
  fail "the resumed curve differs: $(diff <(curve "$dir/straight") <(curve "$dir/killed") | head -4)"
cmp -s <(logged_steps "$dir/killed") <(seq "$steps") || fail "the log's steps are not 1..$steps once each"
left=$(find "$dir/killed" -name '.tmp-*' | wc -l)
[[ $left -eq 0 ]] || fail "$left temporary files left in run.dir: $(ls -a "$dir/killed")"
echo "$kills kills; start-up ${startup} s, training ${training} s"
exit $((failures > 0))
