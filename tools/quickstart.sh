#!/usr/bin/env bash
# The main job, end to end: set up and build spdec, check, format-check and
# compile every process in library/, draw the forward strip of the paper's
# anisotropic process on Fashion-MNIST, then train it (specs/quickstart.toml:
# about ten minutes on a 2-core CPU) and sample a grid:
# runs/quickstart/samples.png. Running it again resumes or reuses the
# training. Fails loudly (non-zero exit, a list of what failed) if anything
# fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools/setup.sh

spdec="${SPDEC_BUILD_DIR:-build}/spdec"
if [[ ! -x "$spdec" ]]; then
  echo "quickstart: FAILED: $spdec was not built" >&2
  exit 1
fi

shopt -s nullglob
specs=(library/*.spde)
if ((${#specs[@]} == 0)); then
  echo "quickstart: FAILED: no library/*.spde files" >&2
  exit 1
fi

failed=()
for f in "${specs[@]}"; do
  echo "== $spdec check $f"
  if ! "$spdec" check "$f"; then
    failed+=("check $f")
  fi
  echo "== $spdec fmt --check $f"
  if ! "$spdec" fmt --check "$f"; then
    failed+=("fmt --check $f")
  fi
  echo "== $spdec compile $f"
  if ! "$spdec" compile "$f"; then
    failed+=("compile $f")
  fi
done

# Simulation, training and sampling need the runtime (LibTorch) and
# Fashion-MNIST, both installed by tools/setup.sh.
steps=$((3 * ${#specs[@]}))
run_job() {  # run_job ARGS...: one `spdec run` job, recorded when it fails
  steps=$((steps + 1))
  echo "== $spdec run $*"
  if ! "$spdec" run "$@"; then
    failed+=("run $*")
  fi
}
if [[ -x "${SPDEC_BUILD_DIR:-build}/spdec-run" ]]; then
  run_job forward specs/fmnist_perona_malik.toml 'run.dir="runs/quickstart_forward"'
  run_job train specs/quickstart.toml 'run.dir="runs/quickstart"'
  run_job sample specs/quickstart.toml 'run.dir="runs/quickstart"'
fi

if ((${#failed[@]})); then
  echo >&2
  echo "quickstart: FAILED (${#failed[@]} of $steps steps):" >&2
  printf '  spdec %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "quickstart: all ${#specs[@]} library processes pass spdec check, fmt --check and compile;"
if [[ -s runs/quickstart/samples.png ]]; then
  echo "quickstart: the forward strip is runs/quickstart_forward/forward.png"
  echo "quickstart: samples of the trained model: $(pwd)/runs/quickstart/samples.png (grid),"
  echo "            runs/quickstart/samples.npy (float32 [64, 1, 28, 28] in [-1, 1])"
fi
