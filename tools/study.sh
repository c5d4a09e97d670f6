#!/usr/bin/env bash
# The study of docs/results.md (issue 6): five generative processes trained on
# Fashion-MNIST with the same U-Net, optimiser, step budget, batch and seed,
# sampled with the same budget of network evaluations, and scored with
# `spdec run eval` in the features of spdec's own classifier.
#
#   tools/study.sh [STEPS] [N_EVAL] [JOBS]       defaults: 4000 1000 2
#
# Each method is one job (train, then eval on N_EVAL fresh samples, then a
# 64-image grid from the same seed, so the grid is the first 64 of the scored
# samples); JOBS jobs run side by side with one thread each, the longest
# first. Everything lands in runs/study/: one run directory per method and its
# logs; the table of docs/results.md is printed at the end
# (tools/study_table.py). The classifier is trained first if
# runs/study/classifier/classifier.pt is missing. Running it again resumes
# unfinished trainings and re-scores. A method whose sampler diverges (heat
# with this budget: docs/results.md) fails its eval with the count of
# non-finite samples; the others go on, and the script exits 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

steps="${1:-4000}"
n_eval="${2:-1000}"
jobs="${3:-2}"
spdec="${SPDEC_BUILD_DIR:-build}/spdec"
out="runs/study"
mkdir -p "$out"

# One network, optimiser and batch for everyone: the quickstart's network
# (16 channels, [1, 2, 2], one block, no attention: 268 k parameters) at the
# data's own 28x28, the learning rate that trains it fastest on a CPU budget.
common=(
  data.size=28 model.base_channels=16 'model.channel_mult=[1,2,2]' model.num_res_blocks=1
  'model.attention_resolutions=[]' model.dropout=0.0 train.lr=1e-3 train.warmup=100
  train.ema=0.999 train.batch_size=32 "train.steps=$steps" train.checkpoint_every=500
  train.sample_every=0 train.log_every=100 train.seed=0 run.threads=1
)
# One sampler budget: 400 network evaluations per image. PC: 200 reverse-SDE
# steps + 1 Langevin corrector step each; flow matching: Heun, 200 steps (399).
sampling=(sample.steps=200 sample.seed=0)

classifier="$out/classifier/classifier.pt"
if [[ ! -f "$classifier" ]]; then
  "$spdec" run classifier specs/fmnist_classifier.toml "run.dir=\"$out/classifier\"" \
    >"$out/classifier.log" 2>&1
fi

# method  spec  (longest first: the SDE reading simulates its chain every step)
methods=(
  "perona_malik_sde specs/fmnist_perona_malik_sde.toml"
  "perona_malik specs/fmnist_perona_malik.toml"
  "heat specs/fmnist_heat.toml"
  "ve specs/fmnist_ve.toml"
  "flow_matching specs/fmnist_flow_matching.toml"
)

run_method() {  # run_method NAME SPEC: train, score, draw the grid
  local name="$1" spec="$2" dir="$out/$1"
  local where=("run.dir=\"$dir\"")
  "$spdec" run train "$spec" "${where[@]}" "${common[@]}" >"$out/$name-train.log" 2>&1
  "$spdec" run eval "$spec" "${where[@]}" "${common[@]}" "${sampling[@]}" \
    "eval.n=$n_eval" "eval.classifier=\"$classifier\"" 'eval.metrics=["fid","kid","is","precision_recall"]' \
    >"$out/$name-eval.log" 2>&1
  cp "$dir/metrics.json" "$dir/metrics_n$n_eval.json"
  mv "$dir/samples.npy" "$dir/samples_n$n_eval.npy"
  "$spdec" run sample "$spec" "${where[@]}" "${common[@]}" "${sampling[@]}" sample.n=64 \
    >"$out/$name-sample.log" 2>&1
  echo "study: $name done"
}
pids=()
running=0
for entry in "${methods[@]}"; do
  read -r name spec <<<"$entry"
  if ((running >= jobs)); then
    wait -n || true  # a failed job is reported at the end
    running=$((running - 1))
  fi
  run_method "$name" "$spec" &
  pids+=($!)
  running=$((running + 1))
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
echo "study: all jobs finished (status $status); metrics in $out/*/metrics_n$n_eval.json"
python3 tools/study_table.py "$out" || true
exit "$status"
