# Shared by the cli_run_*.sh tests, sourced as `source cli_common.sh "$@"`
# with the arguments CTest passes: the spdec binary and the source root.
# Gives a scratch directory removed on exit, a failure counter the test ends
# with (`exit $((failures > 0))`), and the check every refusal test makes.
spdec="$1"
root="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_exit1 WHAT PATTERN ARGS...: `spdec ARGS...` exits 1 (a user's
# mistake, never a crash or another status) and its output says PATTERN.
expect_exit1() {
  local what="$1" pattern="$2"
  shift 2
  "$spdec" "$@" >"$dir/err.txt" 2>&1
  local code=$?
  [[ $code -eq 1 ]] || fail "$what: exit $code, expected 1: $(cat "$dir/err.txt")"
  grep -q -- "$pattern" "$dir/err.txt" || fail "$what: no '$pattern' in: $(cat "$dir/err.txt")"
}
