#!/usr/bin/env bash
# The main job, end to end. For now: build spdec, then check and format-check
# every process in library/. (Training and sampling join once the runtime exists.)
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
done

if ((${#failed[@]})); then
  echo >&2
  echo "quickstart: FAILED (${#failed[@]} of $((2 * ${#specs[@]})) steps):" >&2
  printf '  spdec %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "quickstart: all ${#specs[@]} library processes pass spdec check and spdec fmt --check"
