#!/usr/bin/env bash
# A run directory is never silently mixed, corrupted or lost: a second
# writer is refused while the first holds run.dir's lock; a refused resume
# leaves config.toml as it was; `run forward` keeps a trained run's
# config.toml; a log without a checkpoint (or a dangling checkpoint symlink)
# is refused rather than restarted at step 0, and `--fresh` says it discards;
# a killed writer's temporary file is removed by the next job.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

tiny=(data.n=32 data.size=16 model.base_channels=16 "model.channel_mult=[1,2]"
      model.num_res_blocks=1 "model.attention_resolutions=[]" train.batch_size=8
      train.checkpoint_every=10 train.sample_every=1000 train.log_every=1 train.prior_fit_images=16)
spec="$root/specs/fmnist_ve.toml"

# Two trainers on one run.dir: the second is refused, the first is intact.
"$spdec" run train "$spec" "run.dir=\"$dir/run\"" "${tiny[@]}" train.steps=30 \
  >"$dir/first.txt" 2>&1 &
first=$!
for _ in $(seq 200); do [[ -s "$dir/run/.lock" ]] && break; sleep 0.05; done
[[ -s "$dir/run/.lock" ]] || fail "the first trainer wrote no $dir/run/.lock"
expect_exit1 "a second trainer" "run.dir $dir/run is in use by pid $first (spdec run train)" \
  run train "$spec" "run.dir=\"$dir/run\"" "${tiny[@]}" train.steps=30
[[ $(wc -l <"$dir/err.txt") -eq 1 ]] || fail "the refusal is not one line: $(cat "$dir/err.txt")"
wait "$first" || fail "the first trainer exited $?: $(cat "$dir/first.txt")"
[[ $(wc -l <"$dir/run/train_log.jsonl") -eq 30 ]] || fail "the first trainer's log has not 30 lines"
[[ -s "$dir/run/config.toml" ]] || fail "train wrote no config.toml"

# A refused resume (another network) leaves config.toml byte-identical.
cp "$dir/run/config.toml" "$dir/config.before"
cp "$dir/run/train_log.jsonl" "$dir/log.before"
expect_exit1 "a resume with another network" "checkpoint" run train "$spec" \
  "run.dir=\"$dir/run\"" "${tiny[@]}" train.steps=40 model.base_channels=32
cmp -s "$dir/config.before" "$dir/run/config.toml" || fail "a refused resume changed config.toml"
cmp -s "$dir/log.before" "$dir/run/train_log.jsonl" || fail "a refused resume changed the log"

# A killed writer's temporary (its pid above any pid_max) is removed by the
# next job once it holds the lock; a live writer's (this shell's) stays.
touch "$dir/run/.tmp-999999999-0.checkpoint.pt" "$dir/run/.tmp-$$-0.config.toml"

# `run forward` into a trained run keeps its config.toml: forward.toml.
"$spdec" run forward "$spec" "run.dir=\"$dir/run\"" forward.images=1 forward.times=2 \
  data.size=16 >"$dir/forward.txt" 2>&1 || fail "forward exited $?: $(cat "$dir/forward.txt")"
cmp -s "$dir/config.before" "$dir/run/config.toml" || fail "forward overwrote config.toml"
[[ -s "$dir/run/forward.toml" ]] || fail "forward wrote no forward.toml"
[[ -e "$dir/run/.tmp-999999999-0.checkpoint.pt" ]] && fail "a killed writer's temporary is left"
[[ -e "$dir/run/.tmp-$$-0.config.toml" ]] || fail "a live writer's temporary was removed"

# A dangling checkpoint symlink is an error naming it; the log stays.
mkdir -p "$dir/dangling"
cp "$dir/log.before" "$dir/dangling/train_log.jsonl"
ln -s "$dir/gone.pt" "$dir/dangling/checkpoint.pt"
expect_exit1 "a dangling checkpoint symlink" "checkpoint $dir/dangling/checkpoint.pt is a dangling" \
  run train "$spec" "run.dir=\"$dir/dangling\"" "${tiny[@]}" train.steps=2
cmp -s "$dir/log.before" "$dir/dangling/train_log.jsonl" || fail "the dangling case changed the log"

# A log without a checkpoint: refused; --fresh discards it and says so.
mkdir -p "$dir/lost"
cp "$dir/log.before" "$dir/lost/train_log.jsonl"
expect_exit1 "a log without a checkpoint" "holds a run's history (train_log.jsonl)" \
  run train "$spec" "run.dir=\"$dir/lost\"" "${tiny[@]}" train.steps=2
cmp -s "$dir/log.before" "$dir/lost/train_log.jsonl" || fail "the refusal changed the log"
[[ -e "$dir/lost/config.toml" ]] && fail "the refusal wrote config.toml"
"$spdec" run train "$spec" "run.dir=\"$dir/lost\"" "${tiny[@]}" train.steps=2 --fresh \
  >"$dir/fresh.txt" 2>&1 || fail "--fresh exited $?: $(cat "$dir/fresh.txt")"
grep -q "discarding the run's history" "$dir/fresh.txt" || fail "--fresh said: $(cat "$dir/fresh.txt")"
[[ $(wc -l <"$dir/lost/train_log.jsonl") -eq 2 ]] || fail "--fresh: the log has not 2 lines"
# Samples written under another name (sample.output) are history too, and
# --fresh discards them.
mkdir -p "$dir/named"
touch "$dir/named/nfe50.png"
expect_exit1 "named samples without a checkpoint" "holds a run's history (nfe50.png)" \
  run train "$spec" "run.dir=\"$dir/named\"" "${tiny[@]}" train.steps=2 'sample.output="nfe50"'
"$spdec" run train "$spec" "run.dir=\"$dir/named\"" "${tiny[@]}" train.steps=2 \
  'sample.output="nfe50"' --fresh >"$dir/fresh-named.txt" 2>&1 ||
  fail "--fresh (named) exited $?: $(cat "$dir/fresh-named.txt")"
[[ -e "$dir/named/nfe50.png" ]] && fail "--fresh kept nfe50.png"
exit $((failures > 0))
