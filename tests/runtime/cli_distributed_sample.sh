#!/usr/bin/env bash
# Sampling on several ranks (issue 20): a tiny run of the paper's process
# (a U-Net with attention; the posterior sampler from simulated priors)
# trained on one rank is sampled on one rank, with --nproc 2, and by two
# processes started by hand the way torchrun starts them (RANK, WORLD_SIZE,
# MASTER_ADDR, MASTER_PORT; rank 0 hosting the store). Each sample's noise is
# keyed by its id and the ranks split the batches a single rank draws (7
# samples in batches of 2: rank 0 draws samples 0-3, rank 1 samples 4-6), so
# the samples of two ranks (1 thread each) are the one rank's, bit for bit:
# the .npy files must be identical. Rank 1 prints nothing; rank 0 says it
# had help.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

spec="$root/specs/quickstart.toml"
tiny=(data.n=64 data.size=8 model.base_channels=16 "model.channel_mult=[1,2]"
      model.num_res_blocks=1 "model.attention_resolutions=[4]" train.batch_size=8 train.steps=2
      train.checkpoint_every=2 train.sample_every=0 train.log_every=1 train.prior_fit_images=8
      run.threads=1 sample.n=7 sample.batch_size=2 sample.steps=4 train.distributed.timeout=30)
run=("run.dir=\"$dir/run\"")

"$spdec" run train "$spec" "${run[@]}" "${tiny[@]}" >"$dir/train.txt" 2>&1 ||
  fail "train exited $?: $(cat "$dir/train.txt")"

"$spdec" run sample "$spec" "${run[@]}" "${tiny[@]}" sample.output=one >"$dir/one.txt" 2>&1 ||
  fail "sample on one rank exited $?: $(cat "$dir/one.txt")"
"$spdec" run sample "$spec" --nproc 2 "${run[@]}" "${tiny[@]}" sample.output=two \
  >"$dir/two.txt" 2>&1 || fail "sample --nproc 2 exited $?: $(cat "$dir/two.txt")"
grep -q "sample: 2 ranks (gloo)" "$dir/two.txt" || fail "no word of 2 ranks: $(cat "$dir/two.txt")"
[[ $(grep -c "^wrote " "$dir/two.txt") -eq 1 ]] || fail "not one writer: $(cat "$dir/two.txt")"
cmp -s "$dir/run/one.npy" "$dir/run/two.npy" ||
  fail "2 ranks' samples differ from 1 rank's: $(cmp "$dir/run/one.npy" "$dir/run/two.npy")"

# torchrun's way: rank 0 hosts the store at MASTER_PORT (a free one).
port=0
for candidate in $(shuf -i 20000-60000 -n 20); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
((port > 0)) || fail "no free port found"
for rank in 0 1; do
  RANK=$rank WORLD_SIZE=2 LOCAL_RANK=$rank LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
    MASTER_PORT=$port "$spdec" run sample "$spec" "${run[@]}" "${tiny[@]}" sample.output=env \
    >"$dir/env$rank.txt" 2>&1 &
  pids[rank]=$!
done
for rank in 0 1; do
  wait "${pids[rank]}" || fail "rank $rank exited $?: $(cat "$dir/env$rank.txt")"
done
[[ ! -s "$dir/env1.txt" ]] || fail "rank 1 was not quiet: $(cat "$dir/env1.txt")"
cmp -s "$dir/run/one.npy" "$dir/run/env.npy" ||
  fail "torchrun-style ranks' samples differ from 1 rank's"

# Fewer batches than ranks: the idle ranks only join the gather. Samples do
# not depend on sample.n, so these 2 are one.npy's first 2 (after the npy
# headers, 128 bytes each; 2 samples of 1x8x8 float32 are 512 bytes).
"$spdec" run sample "$spec" --nproc 3 "${run[@]}" "${tiny[@]}" sample.n=2 sample.output=few \
  >"$dir/few.txt" 2>&1 || fail "sample.n=2 on 3 ranks exited $?: $(cat "$dir/few.txt")"
cmp -s <(tail -c 512 "$dir/run/few.npy") <(head -c 640 "$dir/run/one.npy" | tail -c 512) ||
  fail "sample.n=2 on 3 ranks: not one rank's first 2 samples"

# eval on 2 ranks: the samples drawn by both, the metrics rank 0's: the same
# metrics.json as one rank's.
"$spdec" run classifier "$root/specs/fmnist_classifier.toml" "run.dir=\"$dir/cls\"" data.n=256 \
  data.size=8 train.steps=10 train.batch_size=32 run.threads=1 >"$dir/cls.txt" 2>&1 ||
  fail "classifier exited $?: $(cat "$dir/cls.txt")"
scoring=("${tiny[@]}" eval.n=8 eval.batch_size=8 "eval.classifier=\"$dir/cls/classifier.pt\"")
for ranks in 1 2; do
  rm -f "$dir/run/eval$ranks.npy"
  "$spdec" run eval "$spec" --nproc $ranks "${run[@]}" "${scoring[@]}" sample.output=eval$ranks \
    >"$dir/eval$ranks.txt" 2>&1 || fail "eval on $ranks rank(s) exited $?: $(cat "$dir/eval$ranks.txt")"
  cp "$dir/run/metrics.json" "$dir/metrics$ranks.json"
done
cmp -s "$dir/metrics1.json" "$dir/metrics2.json" ||
  fail "eval: 2 ranks' metrics differ: $(diff "$dir/metrics1.json" "$dir/metrics2.json")"
exit $((failures > 0))
