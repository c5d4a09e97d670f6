#!/usr/bin/env bash
# tools/check_layers.sh must pass on this tree and fail, naming the file and
# line, on a copy with one planted upward include per rule.
set -euo pipefail
source_dir="$1"
check="$source_dir/tools/check_layers.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bash "$check" "$source_dir"

expect_failure() {  # FILE INCLUDE EXPECTED-TEXT
  rm -rf "$work/tree"
  mkdir -p "$work/tree"
  cp -r "$source_dir/lang" "$source_dir/codegen" "$source_dir/runtime" "$work/tree/"
  printf '#include "%s"\n' "$2" >>"$work/tree/$1"
  if bash "$check" "$work/tree" 2>"$work/err"; then
    echo "FAIL: planted #include \"$2\" in $1 was not found" >&2
    exit 1
  fi
  if ! grep -q "$3" "$work/err"; then
    echo "FAIL: the report does not say '$3':" >&2
    cat "$work/err" >&2
    exit 1
  fi
  echo "ok: $1 including $2 is refused"
}

expect_failure runtime/spectral/prior.hpp runtime/run/train_run.hpp \
  "runtime/spectral/prior.hpp:[0-9]*: includes \"runtime/run/train_run.hpp\": layer spectral is below run"
expect_failure runtime/base/npy.cpp runtime/data/dataset.hpp "layer base is below data"
expect_failure runtime/config/run_config.cpp runtime/base/progress.hpp "runtime/config/ builds without"
expect_failure codegen/ir.hpp runtime/base/npy.hpp "codegen/ builds without LibTorch"
expect_failure lang/ast.hpp codegen/ir.hpp "lang/ builds without codegen/ and runtime/"
