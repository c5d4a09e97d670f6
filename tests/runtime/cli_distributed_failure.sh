#!/usr/bin/env bash
# A rank that dies or hangs in the middle of a data-parallel training run
# (issue 20, --nproc 2 over Gloo): the other stops within the timeout with
# an error that names it, never hangs; the launcher exits 1 naming the dead
# rank's signal; checkpoint.pt stays the last good one, and the run resumes
# from it on one rank, then on two again.
#
#   kill   rank 1 is SIGKILLed: its connections close, rank 0's collective
#          (a step's all-reduce, or a checkpoint's weight check) fails at
#          once, and the launcher's report (left in the store) names the
#          signal: rank 0 must say "rank 1 failed: its process (pid N) was
#          killed by signal 9" within a few seconds.
#   hang   rank 1 is SIGSTOPped (alive, silent): rank 0's collective times
#          out after train.distributed.timeout (4 s) and names it, within
#          timeout + 3 s of settling + slack: "rank 1 (pid N) is stopped"
#          (its process state, rank 1 being on this machine), or "rank 1 did
#          not reach the all-reduce of step N's gradients within 4 s" (what
#          a rank on another machine that hangs gets).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

spec="$root/specs/fmnist_ve.toml"
tiny=(data.n=64 data.size=8 model.base_channels=8 "model.channel_mult=[1]"
      model.num_res_blocks=1 "model.attention_resolutions=[]" train.batch_size=8
      train.steps=100000 train.checkpoint_every=5 train.sample_every=0 train.log_every=1
      train.prior_fit_images=8 run.threads=1 train.distributed.timeout=4)
now() { date +%s.%N; }
lines() { if [[ -f "$1" ]]; then wc -l <"$1"; else echo 0; fi; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# rank_pid LAUNCHER R: the pid of rank R among the launcher's children.
rank_pid() {
  local child
  for child in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -qx "RANK=$2"; then
      echo "$child"
      return
    fi
  done
}
# started DIR OUT LAUNCHER: waits (up to 60 s) until the run logged 8 steps.
started() {
  local waited=0
  while (($(lines "$1/train_log.jsonl") < 8)); do
    kill -0 "$3" 2>/dev/null || { fail "the run ended early: $(cat "$2")"; return 1; }
    ((waited++ > 600)) && { fail "no progress in 60 s: $(cat "$2")"; return 1; }
    sleep 0.1
  done
}

# --- kill --------------------------------------------------------------------
"$spdec" run train "$spec" --nproc 2 "run.dir=\"$dir/kill\"" "${tiny[@]}" >"$dir/kill.txt" 2>&1 &
launcher=$!
if started "$dir/kill" "$dir/kill.txt" "$launcher"; then
  victim=$(rank_pid "$launcher" 1)
  kill -KILL "$victim"
  t0=$(now)
  wait "$launcher"
  code=$?
  took=$(since "$t0")
  [[ $code -eq 1 ]] || fail "kill: the launcher exited $code, expected 1: $(cat "$dir/kill.txt")"
  # At the step's all-reduce, or at a checkpoint's weight check.
  grep -q "rank 0 of 2: stopped at .*: rank 1 failed: its process (pid $victim) was killed by signal 9" \
    "$dir/kill.txt" || fail "kill: rank 0 does not name rank 1: $(cat "$dir/kill.txt")"
  grep -q "rank 1 (pid $victim) was killed by signal 9" "$dir/kill.txt" ||
    fail "kill: the launcher does not name rank 1: $(cat "$dir/kill.txt")"
  awk -v t="$took" 'BEGIN { exit !(t < 4 + 3 + 10) }' || fail "kill: rank 0 took $took s to stop"
  # The last checkpoint is intact and resumes on one rank, 3 steps further.
  saved=$(grep -o '"step":[0-9]*' <<<"$(tail -n 1 "$dir/kill/train_log.jsonl")" | cut -d: -f2)
  "$spdec" run train "$spec" "run.dir=\"$dir/kill\"" "${tiny[@]}" train.steps=$((saved + 3)) \
    >"$dir/resume.txt" 2>&1 || fail "resume on 1 rank exited $?: $(cat "$dir/resume.txt")"
  grep -q "resuming .* at step" "$dir/resume.txt" || fail "no resume: $(cat "$dir/resume.txt")"
  last=$(grep -o '"step":[0-9]*' <<<"$(tail -n 1 "$dir/kill/train_log.jsonl")" | cut -d: -f2)
  [[ $last -eq $((saved + 3)) ]] || fail "resume ended at step $last, not $((saved + 3))"
  # And on 2 ranks again, from the 1-rank checkpoint.
  "$spdec" run train "$spec" --nproc 2 "run.dir=\"$dir/kill\"" "${tiny[@]}" \
    train.steps=$((saved + 5)) >"$dir/resume2.txt" 2>&1 ||
    fail "resume on 2 ranks exited $?: $(cat "$dir/resume2.txt")"
  last=$(grep -o '"step":[0-9]*' <<<"$(tail -n 1 "$dir/kill/train_log.jsonl")" | cut -d: -f2)
  [[ $last -eq $((saved + 5)) ]] || fail "the 2-rank resume ended at step $last"
  echo "kill: rank 0 stopped $took s after rank 1 was killed; resumed on 1 rank, then 2, to step $last"
fi

# --- hang --------------------------------------------------------------------
"$spdec" run train "$spec" --nproc 2 "run.dir=\"$dir/hang\"" "${tiny[@]}" >"$dir/hang.txt" 2>&1 &
launcher=$!
if started "$dir/hang" "$dir/hang.txt" "$launcher"; then
  victim=$(rank_pid "$launcher" 1)
  kill -STOP "$victim"
  t0=$(now)
  waited=0
  until grep -q "rank 0 of 2: stopped" "$dir/hang.txt"; do
    ((waited++ > 300)) && break
    sleep 0.1
  done
  took=$(since "$t0")
  kill -KILL "$victim"  # the launcher would, after its grace period
  wait "$launcher"
  grep -Eq "rank 1 did not reach the .* within 4 s|rank 1 \(pid $victim\) is stopped" "$dir/hang.txt" ||
    fail "hang: rank 0 does not name rank 1: $(cat "$dir/hang.txt")"
  awk -v t="$took" 'BEGIN { exit !(t < 4 + 3 + 10) }' || fail "hang: rank 0 took $took s to stop"
  echo "hang: rank 0 stopped $took s after rank 1 was stopped"
fi
exit $((failures > 0))
