#!/usr/bin/env bash
# Installs what spdec needs (Debian packages; only the missing ones) and builds
# it in build/. Idempotent: a second run installs nothing and rebuilds only what
# changed.
#
# Environment:
#   CI=true               configure with -DSPDEC_WERROR=ON
#   SPDEC_BUILD_DIR=dir   build folder (default: build)
#   SPDEC_CMAKE_ARGS=...  extra arguments for the configure step, e.g.
#                         "-DSPDEC_DEPS_DIR=.deps -DCMAKE_PREFIX_PATH=/path/to/torch/share/cmake"
#   SPDEC_SKIP_APT=1      don't check or install packages (machines without a
#                         package registry; see README "Building on a GPU machine")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir="${SPDEC_BUILD_DIR:-build}"

packages=(
  build-essential cmake ninja-build ccache
  libtorch-dev tao-pegtl-dev libtomlplusplus-dev catch2 libcli11-dev libfmt-dev
  nlohmann-json3-dev libstb-dev librandom123-dev zlib1g-dev dataset-fashion-mnist
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  # OpenBLAS (OpenMP build, like LibTorch's threads) replaces the reference
  # BLAS that libtorch-dev pulls in, through Debian's alternatives: every
  # matrix product LibTorch makes (convolutions, the DCT) gets ~2-10x faster.
  libopenblas0-openmp
  # Gloo's headers: c10d's ProcessGroupGloo.hpp includes them, for
  # data-parallel jobs on CPUs (--nproc, torchrun); LibTorch has the library.
  libgloo-dev
  # The study tools (tools/study.py, study_table.py) and a few CLI tests'
  # JSON checks.
  python3
)

if [[ "${SPDEC_SKIP_APT:-0}" != 1 ]]; then
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: no dpkg-query: not a Debian machine; install the equivalents of: ${packages[*]}" >&2
    echo "setup: (set SPDEC_SKIP_APT=1 to skip this check)" >&2
    exit 1
  fi
  missing=()
  for p in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
      sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

configure=(cmake -S . -B "$build_dir")
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  # First configure: choose the generator and build type (later runs keep them).
  if command -v ninja >/dev/null 2>&1; then
    configure+=(-G Ninja)
  fi
  configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
if [[ "${CI:-}" == true ]]; then
  configure+=(-DSPDEC_WERROR=ON)
fi
if [[ -n "${SPDEC_CMAKE_ARGS:-}" ]]; then
  read -r -a extra <<<"$SPDEC_CMAKE_ARGS"
  configure+=("${extra[@]}")
fi

echo "setup: ${configure[*]}"
"${configure[@]}"
cmake --build "$build_dir" -j"$(nproc)"
