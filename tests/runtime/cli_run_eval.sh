#!/usr/bin/env bash
# `spdec run classifier` and `spdec run eval` end to end on a tiny run (256
# Fashion-MNIST images at 16×16, 30 classifier steps, a 2-step VE model):
# the files each writes and the keys of metrics.json (precision/recall when
# asked for); eval without a feature extractor, or with a file that is not
# TorchScript, exits 1 naming the key or the file.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

tiny=(data.n=256 data.size=16 model.base_channels=16 "model.channel_mult=[1,2]"
      model.num_res_blocks=1 "model.attention_resolutions=[]" train.prior_fit_images=16
      sample.steps=5 sample.batch_size=32 eval.n=32 eval.batch_size=32)

"$spdec" run classifier "$root/specs/fmnist_classifier.toml" "run.dir=\"$dir/cls\"" "${tiny[@]}" \
  train.steps=30 train.batch_size=32 >"$dir/cls.txt" 2>&1 || fail "classifier: $(cat "$dir/cls.txt")"
[[ -s "$dir/cls/classifier.pt" ]] || fail "classifier: no classifier.pt"
grep -q "test accuracy" "$dir/cls.txt" || fail "classifier: no accuracy line: $(cat "$dir/cls.txt")"

"$spdec" run train "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/run\"" "${tiny[@]}" train.steps=2 \
  train.batch_size=8 >"$dir/train.txt" 2>&1 || fail "train: $(cat "$dir/train.txt")"
"$spdec" run eval "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/run\"" "${tiny[@]}" \
  "eval.classifier=\"$dir/cls/classifier.pt\"" 'eval.metrics=["fid","kid","is","precision_recall"]' \
  >"$dir/eval.txt" 2>&1 || fail "eval: $(cat "$dir/eval.txt")"
for key in '"fid"' '"kid"' '"is"' '"noise_floor"' '"reference_is"' '"feature_extractor"' \
  '"precision"' '"recall"'; do
  grep -q "$key" "$dir/run/metrics.json" || fail "metrics.json has no $key"
done
[[ -s "$dir/run/samples.npy" ]] || fail "eval did not sample"
grep -q '"class_accuracy"' "$dir/run/metrics.json" &&
  fail "an unconditional model's metrics.json has a class_accuracy"

# A class-conditional model scored with the classifier: the share of samples
# the classifier puts in the class they were drawn for, with the guidance.
"$spdec" run train "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/cond\"" "${tiny[@]}" train.steps=2 \
  train.batch_size=8 model.class_conditional=true >"$dir/cond_train.txt" 2>&1 ||
  fail "conditional train: $(cat "$dir/cond_train.txt")"
"$spdec" run eval "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/cond\"" "${tiny[@]}" \
  model.class_conditional=true sample.guidance=2 "eval.classifier=\"$dir/cls/classifier.pt\"" \
  >"$dir/cond_eval.txt" 2>&1 || fail "conditional eval: $(cat "$dir/cond_eval.txt")"
python3 - "$dir/cond/metrics.json" <<'PY' || fail "conditional eval: class_accuracy missing or out of [0, 1]"
import json, sys
m = json.load(open(sys.argv[1]))
assert 0.0 <= m["class_accuracy"] <= 1.0 and m["class_accuracy_guidance"] == 2.0, m
PY
grep -q "class accuracy" "$dir/cond_eval.txt" || fail "conditional eval: no class accuracy in the log"

# expect_refusal WHAT PATTERN RUN_DIR [key=value ...]: eval exits 1 and says PATTERN.
expect_refusal() {
  expect_exit1 "$1" "$2" run eval "$root/specs/fmnist_ve.toml" "run.dir=\"$3\"" "${tiny[@]}" "${@:4}"
}

expect_refusal "eval without a classifier" "eval.classifier" "$dir/run"

# A diverged sampler's NaN images are refused with the reason, not an
# eigensolver failure: 32 one-channel 16x16 float32 NaNs as samples.npy.
mkdir -p "$dir/nan"
header="{'descr': '<f4', 'fortran_order': False, 'shape': (32, 1, 16, 16), }"
header="$(printf '%-117s' "$header")"  # 10 + 117 + newline = 128 bytes
{ printf '\x93NUMPY\x01\x00\x76\x00%s\n' "$header"
  printf '\x00\x00\xc0\x7f%.0s' $(seq 8192); } >"$dir/nan/samples.npy"
cp "$dir/run/checkpoint.pt" "$dir/nan/"
expect_refusal "eval of NaN samples" "32 of 32 samples are not finite" "$dir/nan" \
  "eval.classifier=\"$dir/cls/classifier.pt\""

echo "not TorchScript" >"$dir/junk.pt"
expect_refusal "eval with a junk feature extractor" "junk.pt is not a TorchScript module" \
  "$dir/run" "eval.feature_extractor=\"$dir/junk.pt\""
exit $((failures > 0))
