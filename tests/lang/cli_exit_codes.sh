#!/usr/bin/env bash
# The CLI's contract for `spdec check` / `spdec fmt`: exit 0 for valid
# input, exactly 1 for rejected input, whatever the input: never a crash
# (signals give 128+N), never an uncaught exception (134).
set -u
spdec=$1
root=$2
failures=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

expect() {  # expect CODE ARGS...
  local want=$1
  shift
  timeout 60 "$spdec" "$@" >/dev/null 2>&1
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: spdec $* exited $got, expected $want"
    failures=$((failures + 1))
  fi
}

for f in "$root"/library/*.spde "$root"/tests/lang/corpus/good/*.spde; do
  expect 0 check "$f"
  expect 0 check --json "$f"
done
for f in "$root"/tests/lang/corpus/bad/*.spde; do
  expect 1 check "$f"
  expect 1 check --json "$f"
done

# Hostile inputs a new user (or a cat) could produce.
printf '' >"$scratch/empty.spde"
head -c 65536 /dev/urandom >"$scratch/junk.spde"
printf 'process p\nparam a = %s1%s\n' "$(printf '(%.0s' $(seq 5000))" "$(printf ')%.0s' $(seq 5000))" >"$scratch/deep.spde"
python3 - "$scratch/big.spde" <<'PY' 2>/dev/null || yes 'param a = 1 +' | head -c 1100000 >"$scratch/big.spde"
import sys
with open(sys.argv[1], "w") as f:
    f.write("process big\n")
    f.write("".join(f"param p{i} = {i} * 2\n" for i in range(60000)))
    f.write("drift = 0\ndiffusion = 1\ntime T = 1, dt = 0.1\n")
PY
for f in empty junk deep; do
  expect 1 check "$scratch/$f.spde"
done
timeout 120 "$spdec" check "$scratch/big.spde" >/dev/null 2>&1
code=$?
if [ "$code" != 0 ] && [ "$code" != 1 ]; then
  echo "FAIL: spdec check on a 1 MB file exited $code"
  failures=$((failures + 1))
fi
expect 1 check "$scratch/does-not-exist.spde"
expect 1 check "$root/library/perona_malik.spde" --param nosuch=1
expect 1 check "$root/library/perona_malik.spde" --param size=
expect 0 check "$root/library/perona_malik.spde" --param size=64
expect 1 check
expect 1 frobnicate
expect 0 --help

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI contract violations"
  exit 1
fi
echo "CLI exit codes: all as specified"
