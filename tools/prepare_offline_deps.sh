#!/usr/bin/env bash
# Copies spdec's header-only dependencies from this Debian machine (installed by
# tools/setup.sh) into DIR, so they can travel to a machine without a package
# registry (e.g. a GPU machine with pip's torch) and be found there by CMake:
#
#   tools/prepare_offline_deps.sh .deps            # here (.deps/ is git-ignored)
#   # ...carry .deps along with the working tree, then on the other machine:
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#         -DSPDEC_DEPS_DIR=.deps \
#         -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch.utils;print(torch.utils.cmake_prefix_path)')"
#
# Layout of DIR (a small install prefix; SPDEC_DEPS_DIR is put first on
# CMAKE_PREFIX_PATH):
#   include/{tao,CLI,nlohmann,catch2,toml++,fmt,stb,Random123}
#   share/pegtl/cmake, share/cmake/CLI11, share/cmake/nlohmann_json   (their own configs)
#   lib/cmake/Catch2         (a header-only config written here + Catch.cmake)
#   toml++, fmt, stb and Random123 have no relocatable config: CMake makes
#   header-only targets for them (spdec::toml with TOML_HEADER_ONLY=1, spdec::fmt
#   with FMT_HEADER_ONLY=1, spdec::stb, spdec::random123).
#   MANIFEST                 package versions copied
#
# Options:
#   --with-data   also copy Fashion-MNIST (about 30 MB) to DIR/datasets/fashion-mnist
set -euo pipefail

usage() { echo "usage: $0 [--with-data] DIR" >&2; exit 2; }

with_data=0
dir=""
for arg in "$@"; do
  case "$arg" in
    --with-data) with_data=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) usage ;;
    *) [[ -z "$dir" ]] || usage; dir="$arg" ;;
  esac
done
[[ -n "$dir" ]] || usage

die() { echo "prepare_offline_deps: $*" >&2; exit 1; }

# Copy a directory tree SRC into DEST (DEST is replaced).
copy_tree() {
  local src="$1" dest="$2"
  [[ -d "$src" ]] || die "missing $src (run tools/setup.sh first)"
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  cp -a "$src" "$dest"
}

copy_file() {
  local src="$1" dest_dir="$2"
  [[ -f "$src" ]] || die "missing $src (run tools/setup.sh first)"
  mkdir -p "$dest_dir"
  cp -a "$src" "$dest_dir/"
}

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# PEGTL: headers + its relocatable config (prefix = three levels above the file).
copy_tree /usr/include/tao "$dir/include/tao"
copy_tree /usr/share/pegtl/cmake "$dir/share/pegtl/cmake"

# CLI11 and nlohmann_json: headers + relocatable configs.
copy_tree /usr/include/CLI "$dir/include/CLI"
copy_tree /usr/share/cmake/CLI11 "$dir/share/cmake/CLI11"
copy_tree /usr/include/nlohmann "$dir/include/nlohmann"
copy_tree /usr/share/cmake/nlohmann_json "$dir/share/cmake/nlohmann_json"

# toml++, fmt, stb, Random123: headers only.
copy_tree /usr/include/toml++ "$dir/include/toml++"
copy_tree /usr/include/fmt "$dir/include/fmt"
copy_tree /usr/include/stb "$dir/include/stb"
copy_tree /usr/include/Random123 "$dir/include/Random123"

# Catch2 v2: the single header and its CMake scripts. Debian's own config also
# imports a static Catch2WithMain library we don't use, so write a header-only one.
copy_tree /usr/include/catch2 "$dir/include/catch2"
catch_cmake="$dir/lib/cmake/Catch2"
rm -rf "$catch_cmake"
for f in Catch.cmake CatchAddTests.cmake ParseAndAddCatchTests.cmake Catch2ConfigVersion.cmake; do
  copy_file "/usr/lib/cmake/Catch2/$f" "$catch_cmake"
done
cat >"$catch_cmake/Catch2Config.cmake" <<'EOF'
# Header-only Catch2 config written by spdec's tools/prepare_offline_deps.sh.
if(NOT TARGET Catch2::Catch2)
  get_filename_component(_catch2_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  add_library(Catch2::Catch2 INTERFACE IMPORTED)
  set_target_properties(Catch2::Catch2 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_catch2_prefix}/include")
  unset(_catch2_prefix)
  list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
endif()
set(Catch2_FOUND TRUE)
EOF

if ((with_data)); then
  copy_tree /usr/share/datasets/fashion-mnist "$dir/datasets/fashion-mnist"
fi

{
  echo "# spdec offline dependencies, copied $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(hostname)"
  for p in tao-pegtl-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libfmt-dev \
           libstb-dev librandom123-dev catch2 dataset-fashion-mnist; do
    printf '%s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
  done
} >"$dir/MANIFEST"

echo "prepare_offline_deps: wrote $(du -sh "$dir" | cut -f1) to $dir"
echo "configure with: -DSPDEC_DEPS_DIR=$dir" \
     "-DCMAKE_PREFIX_PATH=\"\$(python3 -c 'import torch.utils;print(torch.utils.cmake_prefix_path)')\""
