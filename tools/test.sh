#!/usr/bin/env bash
# Builds spdec (tools/setup.sh) and runs the whole test suite with CTest.
# Extra arguments go to ctest, e.g.  tools/test.sh -L lang   or   -R parser
#
# Environment: as tools/setup.sh (CI, SPDEC_BUILD_DIR, SPDEC_CMAKE_ARGS,
# SPDEC_SKIP_APT), and SPDEC_TEST_JOBS (parallel tests, default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
tools/setup.sh
echo "test: setup and build took $((SECONDS - start)) s"

ctest --test-dir "${SPDEC_BUILD_DIR:-build}" --output-on-failure -j"${SPDEC_TEST_JOBS:-2}" "$@"
