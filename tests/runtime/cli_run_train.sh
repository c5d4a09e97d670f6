#!/usr/bin/env bash
# `spdec run train` and `spdec run sample` from the command line on a tiny
# run (64 Fashion-MNIST images cropped to 16×16, a 16-channel U-Net, 4 steps):
# the files each writes, resumption, and the errors a user meets — no
# checkpoint, a checkpoint of another process, a sampler the process cannot
# serve — each exit 1 with a message naming the problem.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

tiny=(data.n=64 data.size=16 model.base_channels=16 "model.channel_mult=[1,2]"
      model.num_res_blocks=1 "model.attention_resolutions=[]" train.batch_size=8
      train.checkpoint_every=2 train.sample_every=4 train.log_every=1 train.prior_fit_images=16
      sample.n=4 sample.batch_size=4 sample.steps=5)
run=(run.dir="\"$dir/run\"")

"$spdec" run train "$root/specs/fmnist_ve.toml" "${run[@]}" "${tiny[@]}" train.steps=4 \
  >"$dir/train.txt" 2>&1 || fail "train exited $?: $(cat "$dir/train.txt")"
for f in checkpoint.pt train_log.jsonl config.toml samples/step_0000004.png; do
  [[ -s "$dir/run/$f" ]] || fail "train: missing $f"
done
[[ $(wc -l <"$dir/run/train_log.jsonl") -eq 4 ]] || fail "train: the log has not 4 lines"

"$spdec" run train "$root/specs/fmnist_ve.toml" "${run[@]}" "${tiny[@]}" train.steps=6 \
  >"$dir/resume.txt" 2>&1 || fail "resume exited $?: $(cat "$dir/resume.txt")"
grep -q "resuming .* at step 4" "$dir/resume.txt" || fail "no resume message: $(cat "$dir/resume.txt")"
[[ $(wc -l <"$dir/run/train_log.jsonl") -eq 6 ]] || fail "resume: the log has not 6 lines"

"$spdec" run sample "$root/specs/fmnist_ve.toml" "${run[@]}" "${tiny[@]}" >"$dir/sample.txt" 2>&1 \
  || fail "sample exited $?: $(cat "$dir/sample.txt")"
for f in samples.png samples.npy; do [[ -s "$dir/run/$f" ]] || fail "sample: missing $f"; done
# float32 [4, 1, 16, 16]: the .npy header then 4 KiB of data.
grep -aq "'shape': (4, 1, 16, 16)" "$dir/run/samples.npy" || fail "samples.npy has the wrong shape"

# A second sample of the trained run: the training's overrides of [data],
# [model] and [train] come from run.dir/config.toml (not repeated here), and
# sample.output names the files, so samples.png stays.
cp "$dir/run/samples.npy" "$dir/first.npy"
"$spdec" run sample "$root/specs/fmnist_ve.toml" "${run[@]}" sample.n=4 sample.batch_size=4 \
  sample.steps=5 sample.output=again >"$dir/again.txt" 2>&1 \
  || fail "sample of the trained run exited $?: $(cat "$dir/again.txt")"
grep -q "\[model\], \[autoencoder\] and \[train\] from the trained run's $dir/run/config.toml" "$dir/again.txt" \
  || fail "no word of the trained run's config: $(cat "$dir/again.txt")"
grep -q "model.base_channels = 32 (the run: 16)" "$dir/again.txt" \
  || fail "the spec's unused values are not listed: $(cat "$dir/again.txt")"
for f in again.png again.npy; do [[ -s "$dir/run/$f" ]] || fail "sample.output: missing $f"; done
cmp -s "$dir/run/samples.npy" "$dir/first.npy" || fail "sample.output: samples.npy was replaced"

# run edit: held-out images made strokes, and a guide file of another size.
"$spdec" run edit "$root/specs/fmnist_ve.toml" "${run[@]}" sample.steps=5 edit.images=2 \
  edit.seeds=2 "edit.sweep=[0.5]" >"$dir/edit.txt" 2>&1 \
  || fail "edit exited $?: $(cat "$dir/edit.txt")"
grep -q "2 test images made stroke paintings" "$dir/edit.txt" || fail "edit said: $(cat "$dir/edit.txt")"
for f in edit.png edit.npy edit.json; do [[ -s "$dir/run/$f" ]] || fail "edit: missing $f"; done
"$spdec" run edit "$root/specs/fmnist_ve.toml" "${run[@]}" sample.steps=5 --input "$dir/run/edit.png" \
  edit.output=from_file >"$dir/edit2.txt" 2>&1 || fail "edit --input exited $?: $(cat "$dir/edit2.txt")"
[[ -s "$dir/run/from_file.png" ]] || fail "edit --input: missing from_file.png"
"$spdec" run edit "$root/specs/fmnist_ve.toml" "${run[@]}" --input "$dir/nothing.png" >"$dir/edit3.txt" 2>&1 \
  && fail "edit of a missing file succeeded"
grep -q "nothing.png" "$dir/edit3.txt" || fail "a missing guide is not named: $(cat "$dir/edit3.txt")"

# The posterior sampler (auto for VE) with Gamma from held-out images.
"$spdec" run sample "$root/specs/fmnist_ve.toml" "${run[@]}" "${tiny[@]}" \
  sample.variance_correction=true sample.variance_images=8 >"$dir/gamma.txt" 2>&1 \
  || fail "sample with variance correction exited $?: $(cat "$dir/gamma.txt")"
grep -q "sampler posterior" "$dir/gamma.txt" || fail "VE's auto sampler: $(cat "$dir/gamma.txt")"

# Class-conditional: labels in training, one label and guidance in sampling.
"$spdec" run train "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/cond\"" "${tiny[@]}" train.steps=2 \
  model.class_conditional=true >"$dir/cond.txt" 2>&1 || fail "conditional train: $(cat "$dir/cond.txt")"
"$spdec" run sample "$root/specs/fmnist_ve.toml" "run.dir=\"$dir/cond\"" "${tiny[@]}" \
  model.class_conditional=true sample.label=3 sample.guidance=1.5 >"$dir/cond.txt" 2>&1 \
  || fail "conditional sample: $(cat "$dir/cond.txt")"
[[ -s "$dir/cond/samples.png" ]] || fail "conditional sample: no samples.png"

expect_error() { expect_exit1 "$1" "$2" run "${@:3}"; }  # WHAT PATTERN JOB ARGS...
expect_error "no checkpoint" "no checkpoint at" sample "$root/specs/fmnist_ve.toml" \
  "run.dir=\"$dir/empty\"" "${tiny[@]}"
expect_error "missing --checkpoint" "nothere.pt" sample "$root/specs/fmnist_ve.toml" \
  "${run[@]}" "${tiny[@]}" --checkpoint "$dir/nothere.pt"
expect_error "another process" "was trained for process ve" sample \
  "$root/specs/fmnist_heat.toml" "${run[@]}" "${tiny[@]}"
grep -q "process.file: \".*ve.spde\" in the checkpoint's run, \".*heat.spde\" here" "$dir/err.txt" \
  || fail "another process: the message does not say what differs: $(cat "$dir/err.txt")"
# -p NAME=VALUE is process.params.NAME=VALUE: a checkpoint trained without it
# is refused, naming the param.
expect_error "-p" "process.params.sigma_max: absent in the checkpoint.s run, 60.0 here" sample \
  "$root/specs/fmnist_ve.toml" "${run[@]}" "${tiny[@]}" -p sigma_max=60
expect_error "-p without =" "expected -p NAME=VALUE" sample "$root/specs/fmnist_ve.toml" \
  "${run[@]}" -p T
expect_error "a bare NAME=VALUE" "process.params.T=3" sample "$root/specs/fmnist_ve.toml" \
  "${run[@]}" T=3
expect_error "--params" "process.params.NAME=VALUE" sample "$root/specs/fmnist_ve.toml" \
  "${run[@]}" --params T=3
"$spdec" run train "$root/specs/fmnist_perona_malik.toml" "run.dir=\"$dir/pm\"" "${tiny[@]}" \
  train.steps=2 >"$dir/pm.txt" 2>&1 || fail "perona_malik train exited $?: $(cat "$dir/pm.txt")"
expect_error "ancestral on a nonlinear process" "needs a linear process" sample \
  "$root/specs/fmnist_perona_malik.toml" "run.dir=\"$dir/pm\"" "${tiny[@]}" \
  'sample.sampler="ancestral"'
expect_error "exponential on a nonlinear process" "needs a linear process" sample \
  "$root/specs/fmnist_perona_malik.toml" "run.dir=\"$dir/pm\"" "${tiny[@]}" \
  'sample.sampler="exponential"'
# The default (posterior) sampler is stable at 5 steps; the explicit pc
# sampler is not for this stiff drift, and says so before it runs.
"$spdec" run sample "$root/specs/fmnist_perona_malik.toml" "run.dir=\"$dir/pm\"" "${tiny[@]}" \
  >"$dir/pm_sample.txt" 2>&1 || fail "perona_malik sample exited $?: $(cat "$dir/pm_sample.txt")"
grep -q "sampler posterior" "$dir/pm_sample.txt" || fail "auto is not posterior: $(cat "$dir/pm_sample.txt")"
grep -q "unstable" "$dir/pm_sample.txt" && fail "posterior warned: $(cat "$dir/pm_sample.txt")"
"$spdec" run sample "$root/specs/fmnist_perona_malik.toml" "run.dir=\"$dir/pm\"" "${tiny[@]}" \
  'sample.sampler="pc"' >"$dir/pm_pc.txt" 2>&1 || fail "pc sample exited $?: $(cat "$dir/pm_pc.txt")"
grep -q "warning: sampler reverse_sde with 5 steps is unstable.*About [0-9]* steps would be stable" \
  "$dir/pm_pc.txt" || fail "no stability warning: $(cat "$dir/pm_pc.txt")"
exit $((failures > 0))
