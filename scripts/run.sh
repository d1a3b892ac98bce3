#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets everything up (scripts/setup.sh), builds prefopt and runs its flagship program on its
# embedded defaults. Until the "Let me explain" example lands this is the model benchmark:
# prefopt's GPT-2 training step and scoring pass next to PyTorch's, on the same shapes.
#   scripts/run.sh
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "${REPO_ROOT}/scripts/setup.sh"
exec bash "${REPO_ROOT}/benchmarks/run_model_benchmark.sh" "$@"
