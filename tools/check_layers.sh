#!/usr/bin/env bash
# Checks the include layering of spdec's libraries; exits 1 and names each
# offending #include, 0 when the layering holds.
#
#   tools/check_layers.sh [ROOT]      ROOT: a source tree (default: this one)
#
# Rules:
#   lang/      includes neither codegen/ nor runtime/ (it builds without both)
#   codegen/   does not include runtime/ (it builds without LibTorch)
#   runtime/config/ includes no runtime layer (it builds without LibTorch)
#   runtime/<layer>/ includes runtime/<other>/ only when <other> is the same
#              layer or a lower one. The order is SPDEC_RUNTIME_LAYERS in
#              runtime/CMakeLists.txt, lowest first; config is below them all.
#   every runtime source lives in runtime/config/ or in a layer folder.
# Run by tools/lint.sh and by the CTest test layers/include_order.
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"

read -r -a layers < <(sed -n 's/^set(SPDEC_RUNTIME_LAYERS \(.*\))$/\1/p' runtime/CMakeLists.txt)
if ((${#layers[@]} == 0)); then
  echo "check_layers: no set(SPDEC_RUNTIME_LAYERS ...) in $root/runtime/CMakeLists.txt" >&2
  exit 2
fi
declare -A rank=([config]=0)
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$((i + 1)); done

failures=0
fail() {  # file:line: message
  echo "$1: $2" >&2
  failures=$((failures + 1))
}

# includes FILE -> "LINE PATH" for each #include "PATH"
includes() {
  grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$1" |
    sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1 \2/' || true
}

check_tree() {  # FOLDER FORBIDDEN-REGEX ALLOWED-REGEX WHY
  local file line path
  while IFS= read -r file; do
    while read -r line path; do
      if [[ "$path" =~ $2 && ! "$path" =~ $3 ]]; then
        fail "$file:$line" "includes \"$path\": $4"
      fi
    done < <(includes "$file")
  done < <(find "$1" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)
}

check_tree lang '^(codegen|runtime)/' '^$' "lang/ builds without codegen/ and runtime/"
check_tree codegen '^runtime/' '^$' "codegen/ builds without LibTorch"
check_tree runtime/config '^runtime/' '^runtime/config/' "runtime/config/ builds without the LibTorch runtime"

while IFS= read -r file; do
  rel="${file#runtime/}"
  layer="${rel%%/*}"
  if [[ "$rel" != */* || -z "${rank[$layer]+x}" ]]; then
    fail "$file" "not in a runtime layer folder (${layers[*]}; or config)"
    continue
  fi
  [[ "$layer" == config ]] && continue
  while read -r line path; do
    [[ "$path" == runtime/* ]] || continue
    other="${path#runtime/}"
    other="${other%%/*}"
    if [[ -z "${rank[$other]+x}" ]]; then
      fail "$file:$line" "includes \"$path\", which is in no runtime layer"
    elif ((rank[$other] > rank[$layer])); then
      fail "$file:$line" "includes \"$path\": layer $layer is below $other (order: ${layers[*]})"
    fi
  done < <(includes "$file")
done < <(find runtime -type f \( -name '*.cpp' -o -name '*.hpp' \) | sort)

if ((failures > 0)); then
  echo "check_layers: $failures upward include(s)" >&2
  exit 1
fi
echo "check_layers: ${#layers[@]} runtime layers, lang/ and codegen/: no upward include"
