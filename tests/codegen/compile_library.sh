#!/usr/bin/env bash
# spdec compile over library/: every process compiles for every available
# target into a fresh cache (a miss), then again (a hit); user errors exit 1.
set -uo pipefail
spdec="$1"
root="$2"
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
export SPDEC_CACHE_DIR="$cache"
targets=cpu
printf 'process probe\ndrift = lap(u)\ndiffusion = 1\ntime T = 1, dt = 0.1\n' >"$cache/probe.spde"
if "$spdec" compile "$cache/probe.spde" --emit ptx -o "$cache/ptx" >/dev/null 2>&1; then
  targets=all
else
  echo "note: CUDA target unavailable here; compiling for the CPU only"
fi
failures=0
for file in "$root"/library/*.spde; do
  first="$("$spdec" compile "$file" --target "$targets" 2>&1)" || {
    echo "FAIL (compile): $file"; echo "$first"; failures=$((failures + 1)); continue; }
  if grep -q "cache hit" <<<"$first"; then
    echo "FAIL (expected a miss in a fresh cache): $file"; echo "$first"; failures=$((failures + 1))
  fi
  second="$("$spdec" compile "$file" --target "$targets" 2>&1)"
  if [[ "$(grep -c "cache hit" <<<"$second")" -lt 1 ]] || grep -q "miss" <<<"$second"; then
    echo "FAIL (expected a cache hit): $file"; echo "$second"; failures=$((failures + 1))
  fi
  echo "ok: $(basename "$file"): $(tr '\n' ' ' <<<"$second" | sed 's/  */ /g')"
done
# A user error is exit 1 with a diagnostic, not a crash.
printf 'process p\ndrift = lap(v)\n' >"$cache/bad.spde"
"$spdec" compile "$cache/bad.spde" >/dev/null 2>&1
code=$?
if [[ $code -ne 1 ]]; then echo "FAIL: a bad file exited $code, expected 1"; failures=$((failures + 1)); fi
exit $((failures > 0))
