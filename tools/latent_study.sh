#!/usr/bin/env bash
# Latent-space processes compared at one budget: one autoencoder (the first
# stage of specs/fmnist_latent_perona_malik.toml), then VE, flow matching and
# the paper's anisotropic process (decoupled) trained on its 4x8x8 latents
# with the same network, batch and number of steps, each sampled at about the
# same number of network evaluations and scored on the decoded images with
# `spdec run eval` (FID / KID / IS / precision / recall in the classifier's
# features, against the test split). Resumable: a finished stage (its
# classifier.pt, autoencoder.json or metrics.json) is skipped, a training
# resumes from its checkpoint.
#
#   tools/latent_study.sh --out DIR [--classifier FILE] [--steps 2000] [--n 1000]
#       [--nfe 100] [--methods "ve flow_matching perona_malik"] [--threads 2]
#   tools/latent_study.sh --table --out DIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="" classifier="" steps=2000 n=1000 nfe=100 threads=2 table=0
methods="ve flow_matching perona_malik"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --classifier) classifier="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --n) n="$2"; shift 2 ;;
    --nfe) nfe="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --table) table=1; shift ;;
    *) echo "latent_study: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "latent_study: --out DIR is required" >&2; exit 2; }
for m in $methods; do
  case "$m" in
    ve | flow_matching | perona_malik) ;;
    *) echo "latent_study: unknown method $m (ve, flow_matching, perona_malik)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [[ $table == 1 ]]; then
  python3 - "$out" <<'EOF'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
ae = root / "autoencoder" / "autoencoder.json"
if ae.exists():
    a = json.loads(ae.read_text())
    print(f"autoencoder: {json.dumps(a)}\n")
print("| process (latent 4x8x8) | sampler | NFE | FID | KID | IS | precision | recall | noise floor FID |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for cell in sorted(root.glob("eval_*/metrics.json")):
    m = json.loads(cell.read_text())
    info = json.loads((cell.parent / "study.json").read_text())
    print(f"| {info['method']} | {info['sampler']} | {info['nfe']} | {m['fid']:.1f} "
          f"| {m['kid']['mean']:.1f} | {m['is']['mean']:.2f} | {m['precision']:.3f} "
          f"| {m['recall']:.3f} | {m['noise_floor']['fid']:.1f} |")
EOF
  exit 0
fi

spdec="${SPDEC_BUILD_DIR:-build}/spdec"
say() { echo "latent_study: $(date -u +%H:%M:%S) $*"; }

if [[ -z "$classifier" ]]; then
  classifier="$out/classifier/classifier.pt"
  if [[ ! -f "$classifier" ]]; then
    say "training the evaluation classifier"
    "$spdec" run classifier specs/fmnist_classifier.toml "run.dir=\"$out/classifier\"" \
      "run.threads=$threads" > "$out/classifier.log" 2>&1
  fi
fi
[[ -f "$classifier" ]] || { echo "latent_study: no classifier at $classifier" >&2; exit 2; }

# The first stage, shared by every process: the shipped spec's autoencoder.
spec=specs/fmnist_latent_perona_malik.toml
autoencoder="$out/autoencoder/autoencoder.pt"
if [[ ! -f "$out/autoencoder/autoencoder.json" ]]; then
  say "training the autoencoder"
  "$spdec" run autoencoder "$spec" "run.dir=\"$out/autoencoder\"" "run.threads=$threads" \
    "model.autoencoder=\"$autoencoder\"" "eval.classifier=\"$classifier\"" \
    > "$out/autoencoder.log" 2>&1
fi

# One network, optimiser and budget for every process: the spec's.
common=("model.autoencoder=\"$autoencoder\"" "train.steps=$steps" train.sample_every=0
        train.checkpoint_every=500 train.log_every=100 "run.threads=$threads" train.seed=0)

# method -> its overrides and sampler. NFE: the posterior sampler costs
# steps + 1 evaluations (the last Tweedie step), flow matching's Heun
# 2 * steps - 1 (Euler on the last step).
overrides() {
  case "$1" in
    ve) echo 'process.file="ve.spde"' 'sample.sampler="auto"' ;;
    flow_matching) echo 'process.file="ve.spde"' 'train.objective="flow_matching"' \
      'sample.integrator="heun"' ;;
    perona_malik) echo 'sample.sampler="auto"' ;;
  esac
}
sample_steps() { if [[ $1 == flow_matching ]]; then echo $(((nfe + 1) / 2)); else echo $((nfe - 1)); fi; }
actual_nfe() { if [[ $1 == flow_matching ]]; then echo $((2 * $2 - 1)); else echo $(($2 + 1)); fi; }

for m in $methods; do
  read -r -a extra <<< "$(overrides "$m")"
  train="$out/train_$m"
  say "training $m on the latents ($steps steps; resumes from its checkpoint)"
  "$spdec" run train "$spec" "run.dir=\"$train\"" "${extra[@]}" "${common[@]}" >> "$out/train_$m.log" 2>&1
  cell="$out/eval_$m"
  if [[ -f "$cell/metrics.json" ]]; then say "$cell done"; continue; fi
  s=$(sample_steps "$m")
  say "sampling and scoring $m ($s steps, $(actual_nfe "$m" "$s") NFE, n = $n)"
  "$spdec" run eval "$spec" "run.dir=\"$cell\"" "${extra[@]}" "${common[@]}" \
    "sample.checkpoint=\"$train/checkpoint.pt\"" "sample.steps=$s" sample.seed=0 eval.seed=0 \
    "eval.n=$n" eval.split=\"test\" "eval.classifier=\"$classifier\"" \
    'eval.metrics=["fid","kid","is","precision_recall"]' > "$cell.log" 2>&1
  sampler=$([[ $m == flow_matching ]] && echo "flow ODE, Heun" || echo "auto (posterior)")
  printf '{"method": "%s", "sampler": "%s", "steps": %d, "nfe": %d, "train_steps": %d, "n": %d}\n' \
    "$m" "$sampler" "$s" "$(actual_nfe "$m" "$s")" "$steps" "$n" > "$cell/study.json"
done
say "done; table: tools/latent_study.sh --table --out $out"
