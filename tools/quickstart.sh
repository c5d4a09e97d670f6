#!/usr/bin/env bash
# The main job, end to end. For now: build spdec, check and format-check every
# process in library/, compile each for the CPU, and draw the forward strips of
# the paper's anisotropic process and of the heat process on Fashion-MNIST
# (runs/quickstart_*/forward.png). Training and sampling join once they exist.
# Fails loudly (non-zero exit, a list of what failed) if anything fails.
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

# The forward strips need the runtime (LibTorch) and Fashion-MNIST, both
# installed by tools/setup.sh.
steps=$((3 * ${#specs[@]}))
if [[ -x "${SPDEC_BUILD_DIR:-build}/spdec-run" ]]; then
  for run in fmnist_perona_malik fmnist_heat; do
    steps=$((steps + 1))
    echo "== $spdec run forward specs/$run.toml run.dir=runs/quickstart_$run"
    if ! "$spdec" run forward "specs/$run.toml" "run.dir=runs/quickstart_$run"; then
      failed+=("run forward specs/$run.toml")
    fi
  done
fi

if ((${#failed[@]})); then
  echo >&2
  echo "quickstart: FAILED (${#failed[@]} of $steps steps):" >&2
  printf '  spdec %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "quickstart: all ${#specs[@]} library processes pass spdec check, fmt --check and compile;"
echo "quickstart: forward strips in runs/quickstart_*/forward.png (when the runtime is built)"
