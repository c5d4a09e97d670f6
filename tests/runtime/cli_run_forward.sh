#!/usr/bin/env bash
# `spdec run forward` from the command line: a good run writes its four files;
# a bad key, a bad override and a missing input image exit 1 with a message
# that names the problem, never a crash.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli_common.sh" "$@"

"$spdec" run forward "$root/specs/fmnist_heat.toml" "run.dir=\"$dir/run\"" forward.images=2 \
  forward.times=3 >"$dir/out.txt" 2>&1 || fail "a good run exited $?: $(cat "$dir/out.txt")"
for f in forward.png forward.npy forward.json config.toml; do
  [[ -s "$dir/run/$f" ]] || fail "missing $f"
done

expect_error() { expect_exit1 "$1" "$2" run forward "${@:3}"; }  # WHAT PATTERN ARGS...
printf '[run]\nname = "x"\n[trian]\nsteps = 1\n[process]\nfile = "heat.spde"\n' >"$dir/bad.toml"
expect_error "unknown section" "trian" "$dir/bad.toml"
expect_error "bad override" "train.steps" "$root/specs/fmnist_heat.toml" "train.steps=-3"
expect_error "missing input" "nothere.png" "$root/specs/fmnist_heat.toml" "run.dir=\"$dir/r2\"" \
  --input "$dir/nothere.png"
expect_error "missing config" "nothere.toml" "$dir/nothere.toml"
exit $((failures > 0))
