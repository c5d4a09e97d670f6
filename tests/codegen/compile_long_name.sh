#!/usr/bin/env bash
# `spdec compile --emit cpp|ir -o DIR` for a process whose name is longer
# than a file name may be (255 bytes): the file's stem is capped with a hash
# of the whole name, so two such names that share their first 200 characters
# still get two files.
set -uo pipefail
spdec="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
export SPDEC_CACHE_DIR="$dir/cache"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

long="$(printf 'p%.0s' $(seq 300))"
for end in a b; do
  printf 'process %s%s\ndrift = lap(u)\ndiffusion = 1\ntime T = 1, dt = 0.1\n' "$long" "$end" \
    >"$dir/$end.spde"
  for emit in cpp ir; do
    "$spdec" compile "$dir/$end.spde" --emit "$emit" -o "$dir/out" >"$dir/log.txt" 2>&1 ||
      fail "--emit $emit of a 301-character name exited $?: $(cat "$dir/log.txt")"
  done
done
count=$(find "$dir/out" -name '*.cpp' | wc -l)
[[ $count -eq 2 ]] || fail "two long names that share a head gave $count .cpp files, not 2"
[[ $(find "$dir/out" -name '*.ir' | wc -l) -eq 2 ]] || fail "not two .ir files"
for file in "$dir"/out/*; do
  name="$(basename "$file")"
  [[ ${#name} -le 255 ]] || fail "file name of ${#name} bytes: $name"
done
exit $((failures > 0))
