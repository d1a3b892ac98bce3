#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets everything up (scripts/setup.sh), builds prefopt with its tests, examples and benchmarks,
# runs the whole test suite with CTest, then builds the libFuzzer targets with clang and runs each
# for 30 s (PREFOPT_FUZZ_SECONDS). Idempotent; safe to run again.
#   scripts/test.sh [extra ctest arguments...]
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFOPT_BUILD_DIR:-${REPO_ROOT}/build}"
JOBS="$(nproc)"

bash "${REPO_ROOT}/scripts/setup.sh"
echo "[test] configuring ${BUILD_DIR}"
cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Release \
  -DPREFOPT_BUILD_TESTS=ON -DPREFOPT_BUILD_EXAMPLES=ON -DPREFOPT_BUILD_BENCHMARKS=ON
echo "[test] building with ${JOBS} jobs"
start=$(date +%s)
cmake --build "${BUILD_DIR}" -j"${JOBS}"
echo "[test] build took $(( $(date +%s) - start )) s"
echo "[test] running the test suite"
# Tests run JOBS at a time, each with its own OpenMP threads: passive waiting keeps an idle
# OpenMP thread from spinning on a core another test needs (spinning made oversubscribed runs
# several times slower).
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" ctest --test-dir "${BUILD_DIR}" --output-on-failure -j"${JOBS}" "$@"
echo "[test] fuzz targets: build with clang and run each briefly"
bash "${REPO_ROOT}/scripts/fuzz_smoke.sh" "${PREFOPT_FUZZ_SECONDS:-30}"
