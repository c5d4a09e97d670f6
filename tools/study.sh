#!/usr/bin/env bash
# The study of docs/results.md as a resumable campaign: ten forward processes
# on Fashion-MNIST 28x28, one network and training budget, each with its best
# sampler(s) at equal network evaluations (an NFE sweep), then two training
# seeds at 100 NFE. The driver is tools/study.py (standard-library Python);
# every option, the units and the NFE accounting are in its docstring.
#
#   tools/study.sh --dry-run                     the plan: units, NFE -> steps, hours
#   tools/study.sh [--steps 4000] [--nfe 20,50,100,200] [--n 1000]
#                  [--seed-nfe 100] [--seed-n 2000] [--out runs/study2] [--jobs 2]
#   tools/study_table.py runs/study2             the tables of docs/results.md
#
# Rerunning the same command resumes: finished units are skipped, trainings
# resume from their checkpoints. Environment: SPDEC_BUILD_DIR (default build).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/study.py" "$@"
