#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets everything up (scripts/setup.sh), builds prefopt and runs its flagship program on its
# embedded defaults: the seed notebook's "Let me explain" DPO experiment on the hh-rlhf split that
# ships in examples/let_me_explain/data (a small GPT-2 made and SFT-trained here, DPO, greedy
# answers of both models, held-out success rates, curves). Idempotent; safe to run again.
#   scripts/run.sh [let_me_explain options...]     (e.g. --out DIR, --model DIR, --data PATH; --help)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFOPT_BUILD_DIR:-${REPO_ROOT}/build}"
bash "${REPO_ROOT}/scripts/setup.sh"
echo "[run] configuring ${BUILD_DIR}"
cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "[run] building the let_me_explain example"
cmake --build "${BUILD_DIR}" --target let_me_explain prefopt_cli -j"$(nproc)"
cd "${REPO_ROOT}"
exec "${BUILD_DIR}/examples/let_me_explain" --out "${REPO_ROOT}/out/let_me_explain" "$@"
