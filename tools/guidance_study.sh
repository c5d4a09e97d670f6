#!/usr/bin/env bash
# Classifier-free guidance measured: one class-conditional training (label
# dropout 0.1) with the study's network and budget, then FID / KID / IS and
# the class accuracy (the share of samples the evaluation classifier puts in
# the class they were drawn for) at each guidance weight. Resumable: training
# resumes from its checkpoint, an eval whose metrics.json exists is skipped.
#
#   tools/guidance_study.sh --out DIR --classifier FILE [--spec specs/fmnist_ve.toml]
#       [--weights "0 1 3"] [--steps 4000] [--n 1000] [--sample-steps 50]
#   tools/guidance_study.sh --table --out DIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="" classifier="" spec="specs/fmnist_ve.toml" weights="0 1 3" steps=4000 n=1000
sample_steps=50 table=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --classifier) classifier="$2"; shift 2 ;;
    --spec) spec="$2"; shift 2 ;;
    --weights) weights="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --n) n="$2"; shift 2 ;;
    --sample-steps) sample_steps="$2"; shift 2 ;;
    --table) table=1; shift ;;
    *) echo "guidance_study: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "guidance_study: --out DIR is required" >&2; exit 2; }

if [[ $table == 1 ]]; then
  python3 - "$out" <<'EOF'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
print("| guidance | FID | KID | IS | class accuracy | noise floor FID |")
print("| --- | --- | --- | --- | --- | --- |")
cells = sorted(root.glob("eval_w*/metrics.json"), key=lambda p: float(p.parent.name[6:]))
for cell in cells:
    m = json.loads(cell.read_text())
    print(f"| {m['class_accuracy_guidance']:g} | {m['fid']:.1f} | {m['kid']['mean']:.1f} "
          f"| {m['is']['mean']:.2f} | {m['class_accuracy']:.3f} | {m['noise_floor']['fid']:.1f} |")
EOF
  exit 0
fi
[[ -f "$classifier" ]] || { echo "guidance_study: --classifier FILE is required" >&2; exit 2; }

spdec="${SPDEC_BUILD_DIR:-build}/spdec"
# The study's network and budget (tools/study.py), class-conditional.
common=(data.size=28 model.base_channels=16 "model.channel_mult=[1,2,2]" model.num_res_blocks=1
        "model.attention_resolutions=[]" model.dropout=0.0 model.class_conditional=true
        model.label_dropout=0.1 train.lr=1e-3 train.warmup=100 train.ema=0.999
        train.batch_size=32 train.checkpoint_every=500 train.sample_every=0 train.log_every=100
        run.threads=1 "train.steps=$steps" train.seed=0)
mkdir -p "$out"
echo "guidance_study: $(date -u +%H:%M:%S) training $spec (class-conditional, $steps steps)"
"$spdec" run train "$spec" "run.dir=\"$out/train\"" "${common[@]}" > "$out/train.log" 2>&1
for w in $weights; do
  cell="$out/eval_w$w"
  if [[ -f "$cell/metrics.json" ]]; then echo "guidance_study: $cell done"; continue; fi
  echo "guidance_study: $(date -u +%H:%M:%S) guidance $w"
  "$spdec" run eval "$spec" "run.dir=\"$cell\"" "${common[@]}" \
    "sample.checkpoint=\"$out/train/checkpoint.pt\"" "sample.guidance=$w" \
    "sample.steps=$sample_steps" "eval.n=$n" "eval.classifier=\"$classifier\"" \
    'eval.metrics=["fid","kid","is"]' > "$cell.log" 2>&1
done
echo "guidance_study: done; table: tools/guidance_study.sh --table --out $out"
