#!/usr/bin/env bash
# `spdec run` hands its arguments to the sibling spdec-run unchanged, with
# GOMP_SPINCOUNT=1000 unless the user set GOMP_SPINCOUNT or OMP_WAIT_POLICY
# (tools/spdec/cmd_run.cpp says why). A stand-in spdec-run beside a copy of
# spdec prints what it received.
set -u
spdec=$1
failures=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$spdec" "$scratch/spdec"
cat >"$scratch/spdec-run" <<'STUB'
#!/usr/bin/env bash
echo "args=$*"
echo "spin=${GOMP_SPINCOUNT-unset}"
echo "policy=${OMP_WAIT_POLICY-unset}"
STUB
chmod +x "$scratch/spdec-run"

expect() {  # expect WANTED_LINE ENV... -- (runs `spdec run train a.toml k=v`)
  local want=$1
  shift
  local got
  got=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY "$@" "$scratch/spdec" run train a.toml 'k="v w"')
  if ! grep -qxF -- "$want" <<<"$got"; then
    echo "FAIL: with [$*] expected the line '$want', got:"
    echo "$got"
    failures=$((failures + 1))
  fi
}

expect 'args=train a.toml k="v w"'
expect 'spin=1000'
expect 'policy=unset'
expect 'spin=5' GOMP_SPINCOUNT=5
expect 'spin=unset' OMP_WAIT_POLICY=ACTIVE
expect 'policy=PASSIVE' OMP_WAIT_POLICY=PASSIVE

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "spdec run: arguments and OpenMP defaults as specified"
