#!/usr/bin/env bash
# Stroke-to-image edits over the strength, for several trained runs: the
# faithfulness (RMS to the stroke guide after the simulator's median filter,
# from `spdec run edit`'s edit.json) against the realism (FID / KID of the
# edits against the test set, from `spdec run eval` on edit.npy). Resumable:
# a cell whose metrics.json exists is skipped, so rerun the same command
# after any interruption. The table: tools/edit_study.sh --table --out DIR.
#
#   tools/edit_study.sh --out DIR --classifier FILE \
#       --run NAME=TRAINED_RUN_DIR [--run ...] [--strengths "0.05 0.4 0.6 0.8 1.0"] \
#       [--images 300] [--steps 100]
#
# TRAINED_RUN_DIR holds a finished `spdec run train` (checkpoint.pt and the
# config.toml it wrote); its config is the spec, so every cell samples the
# network exactly as it was trained. Guides: the first --images images of the
# split training did not see, made stroke paintings (edit.images), one edit
# each (edit.seeds = 1); eval.n = --images, against as many training images
# (the guides' own source images would flatter edits that keep them). A
# small strength (0.05: a step or two) scores what the guides themselves do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="" classifier="" strengths="0.05 0.4 0.6 0.8 1.0" images=300 steps=100 table=0
runs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --classifier) classifier="$2"; shift 2 ;;
    --run) runs+=("$2"); shift 2 ;;
    --strengths) strengths="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --table) table=1; shift ;;
    *) echo "edit_study: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "edit_study: --out DIR is required" >&2; exit 2; }

if [[ $table == 1 ]]; then
  python3 - "$out" <<'EOF'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
print("| run | strength | start time | steps | faithfulness (RMS to the guide) | FID | KID | noise floor FID |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for cell in sorted(root.glob("*/s*/metrics.json")):
    edit = json.loads((cell.parent / "edit.json").read_text())
    m = json.loads(cell.read_text())
    row = edit["strengths"][-1]
    print(f"| {cell.parent.parent.name} | {row['strength']:g} | {row['time']:.3g} | {row['steps']} "
          f"| {row['faithfulness_rms']:.3f} | {m['fid']:.1f} | {m['kid']['mean']:.1f} "
          f"| {m['noise_floor']['fid']:.1f} |")
EOF
  exit 0
fi
[[ -f "$classifier" ]] || { echo "edit_study: --classifier FILE is required (a trained spdec run classifier)" >&2; exit 2; }
[[ ${#runs[@]} -gt 0 ]] || { echo "edit_study: give at least one --run NAME=DIR" >&2; exit 2; }

spdec="${SPDEC_BUILD_DIR:-build}/spdec"
for entry in "${runs[@]}"; do
  name="${entry%%=*}" trained="${entry#*=}"
  [[ -f "$trained/checkpoint.pt" && -f "$trained/config.toml" ]] ||
    { echo "edit_study: $trained has no checkpoint.pt and config.toml" >&2; exit 2; }
  for s in $strengths; do
    cell="$out/$name/s$s"
    if [[ -f "$cell/metrics.json" ]]; then echo "edit_study: $cell done"; continue; fi
    mkdir -p "$cell"
    echo "edit_study: $(date -u +%H:%M:%S) $name strength $s"
    common=("run.dir=\"$cell\"" "sample.checkpoint=\"$trained/checkpoint.pt\"" "sample.steps=$steps"
            "edit.strength=$s" "edit.sweep=[]" "edit.seeds=1" "edit.images=$images")
    if [[ ! -f "$cell/edit.json" ]]; then
      "$spdec" run edit "$trained/config.toml" "${common[@]}" > "$cell/edit.log" 2>&1
    fi
    # The guides are stroke paintings of the first held-out (test) images, so
    # the reference is the training split's: scored against their own
    # sources, edits near strength 0 would look real by construction.
    "$spdec" run eval "$trained/config.toml" "${common[@]}" 'sample.output="edit"' \
      "eval.n=$images" "eval.classifier=\"$classifier\"" 'eval.metrics=["fid","kid"]' \
      'eval.split="train"' > "$cell/eval.log" 2>&1
  done
done
echo "edit_study: done; table: tools/edit_study.sh --table --out $out"
