#!/usr/bin/env bash
# Lints spdec's own C++ (lang codegen runtime tools tests bench examples; *.cpp *.hpp):
#   1. clang-format --dry-run -Werror   (style: .clang-format)
#   2. clang-tidy --warnings-as-errors  (checks: .clang-tidy)
#   3. tools/check_layers.sh            (no upward include between layers)
# Exits non-zero on any finding.
#
#   tools/lint.sh                 everything
#   tools/lint.sh FILE...         only these files
#   tools/lint.sh --format-only   skip clang-tidy
#   tools/lint.sh --fix           rewrite files with clang-format instead of checking
#
# clang-tidy reads compile_commands.json from a configure-only build folder,
# build-lint/ (clang as the compiler so every flag is one clang understands,
# precompiled headers off so each file is checked with its own includes). It is
# (re)configured here in about a second; nothing is compiled. With Debian's
# LibTorch 1.13 a clang configuration has no runtime (its headers need GCC in
# C++20), so runtime files are listed as not tidied there.
# Environment: CLANG_FORMAT, CLANG_TIDY (tool names), SPDEC_LINT_BUILD_DIR
# (default build-lint), SPDEC_CMAKE_ARGS (extra configure arguments).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

format_only=0
fix=0
files=()
for arg in "$@"; do
  case "$arg" in
    --format-only) format_only=1 ;;
    --fix) fix=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "lint: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

find_tool() {  # first of the names that exists
  local n
  for n in "$@"; do
    if command -v "$n" >/dev/null 2>&1; then echo "$n"; return 0; fi
  done
  return 1
}
clang_format="${CLANG_FORMAT:-$(find_tool clang-format clang-format-14 || true)}"
clang_tidy="${CLANG_TIDY:-$(find_tool clang-tidy clang-tidy-14 || true)}"
[[ -n "$clang_format" ]] || { echo "lint: clang-format not found (tools/setup.sh installs it)" >&2; exit 2; }

if ((${#files[@]} == 0)); then
  # Tracked and new (not ignored) sources of our own folders.
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
                         lang codegen runtime tools tests bench examples |
                       grep -E '\.(cpp|hpp)$' | sort -u)
fi
if ((${#files[@]} == 0)); then
  echo "lint: no C++ sources to check"
  exit 0
fi

status=0

if ((fix)); then
  "$clang_format" -i "${files[@]}"
  echo "lint: formatted ${#files[@]} files"
  exit 0
fi

if ! bash tools/check_layers.sh; then
  status=1
fi

echo "lint: clang-format on ${#files[@]} files"
if ! "$clang_format" --dry-run -Werror "${files[@]}"; then
  echo "lint: clang-format found differences (tools/lint.sh --fix rewrites the files)" >&2
  status=1
fi

if ((format_only)); then
  exit "$status"
fi
[[ -n "$clang_tidy" ]] || { echo "lint: clang-tidy not found (tools/setup.sh installs it)" >&2; exit 2; }

lint_dir="${SPDEC_LINT_BUILD_DIR:-build-lint}"
configure=(cmake -S . -B "$lint_dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
           -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DBUILD_TESTING=ON)
if [[ ! -f "$lint_dir/CMakeCache.txt" ]]; then
  clangxx="$(find_tool clang++-14 clang++ || true)"
  if [[ -n "$clangxx" ]]; then
    configure+=(-DCMAKE_CXX_COMPILER="$clangxx")
  fi
  if command -v ninja >/dev/null 2>&1; then
    configure+=(-G Ninja)
  fi
fi
if [[ -n "${clangxx:-}" ]] || grep -q '^CMAKE_CXX_COMPILER:.*clang' "$lint_dir/CMakeCache.txt" 2>/dev/null; then
  # With clang the fuzz targets are configured too, so they are tidied.
  configure+=(-DSPDEC_FUZZ=ON)
fi
if [[ -n "${SPDEC_CMAKE_ARGS:-}" ]]; then
  read -r -a extra <<<"$SPDEC_CMAKE_ARGS"
  configure+=("${extra[@]}")
fi
mkdir -p "$lint_dir"
"${configure[@]}" >"$lint_dir/configure.log" 2>&1 || {
  cat "$lint_dir/configure.log" >&2
  echo "lint: configuring $lint_dir failed" >&2
  exit 2
}

# Translation units: the .cpp files among ours that the build compiles
# (headers are checked through them, see HeaderFilterRegex in .clang-tidy).
mapfile -t units < <(python3 - "$lint_dir/compile_commands.json" "${files[@]}" <<'PY'
import json, os, sys
db = {os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))}
for f in sys.argv[2:]:
    if f.endswith(".cpp") and os.path.realpath(f) in db:
        print(f)
PY
)
skipped=0
for f in "${files[@]}"; do
  if [[ "$f" == *.cpp ]]; then
    skipped=$((skipped + 1))
  fi
done
skipped=$((skipped - ${#units[@]}))
if ((skipped > 0)); then
  echo "lint: $skipped .cpp files are not compiled in this configuration (e.g. no LibTorch) and are not tidied"
fi

if ((${#units[@]})); then
  echo "lint: clang-tidy on ${#units[@]} translation units"
  if ! printf '%s\0' "${units[@]}" |
       xargs -0 -n 1 -P "$(nproc)" "$clang_tidy" -p "$lint_dir" --quiet --warnings-as-errors='*'; then
    echo "lint: clang-tidy reported findings" >&2
    status=1
  fi
fi

if ((status == 0)); then
  echo "lint: clean"
fi
exit "$status"
