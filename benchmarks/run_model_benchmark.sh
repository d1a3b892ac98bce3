#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the model benchmark (benchmarks/gpt2_step.cpp) and its PyTorch peer
# (benchmarks/reference/pytorch_gpt2_step.py) on the same shapes in one invocation, prints every
# JSON line and a summary with the ratio, and appends the lines to out/benchmarks/model.jsonl.
#   benchmarks/run_model_benchmark.sh [--quick] [--threads N] [--build-dir DIR]
# --quick runs only the small config (the quick-start demo); the default runs small and 124m.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${REPO_ROOT}/build"
THREADS=2
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --threads) THREADS="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    *) echo "run_model_benchmark.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Release -DPREFOPT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "${BUILD_DIR}" --target bench_gpt2_step -j"$(nproc)" >/dev/null
BENCH="${BUILD_DIR}/benchmarks/bench_gpt2_step"
OUT_DIR="${REPO_ROOT}/out/benchmarks"
mkdir -p "${OUT_DIR}"
stamp="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"

run_pair() {  # config seq_len batch steps
  local cfg="$1" T="$2" B="$3" steps="$4"
  echo "== ${cfg}: ${B} x ${T} tokens, ${THREADS} threads, ${steps} timed steps (${cpu}, $(nproc) cores)" >&2
  local ours theirs
  ours="$(OMP_NUM_THREADS=${THREADS} "${BENCH}" --config "${cfg}" --seq-len "${T}" --batch "${B}" --steps "${steps}" --warmup 1)"
  theirs="$(/usr/bin/python3 "${REPO_ROOT}/benchmarks/reference/pytorch_gpt2_step.py" --config "${cfg}" \
            --seq-len "${T}" --batch "${B}" --steps "${steps}" --warmup 1 --threads "${THREADS}")"
  echo "${ours}"
  echo "${theirs}"
  printf '{"date":"%s","cpu":"%s","prefopt":%s,"pytorch":%s}\n' "${stamp}" "${cpu}" "${ours}" "${theirs}" \
    >> "${OUT_DIR}/model.jsonl"
  /usr/bin/python3 - "${ours}" "${theirs}" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"   train   prefopt {a['train_tokens_per_s']:8.1f} tok/s   pytorch {b['train_tokens_per_s']:8.1f} tok/s"
      f"   ratio {a['train_tokens_per_s'] / b['train_tokens_per_s']:.2f}x", file=sys.stderr)
print(f"   forward prefopt {a['forward_tokens_per_s']:8.1f} tok/s   pytorch {b['forward_tokens_per_s']:8.1f} tok/s"
      f"   ratio {a['forward_tokens_per_s'] / b['forward_tokens_per_s']:.2f}x", file=sys.stderr)
print(f"   peak RSS prefopt {a['peak_rss_mib']:.0f} MiB, pytorch {b['peak_rss_mib']:.0f} MiB;"
      f" train step at {a['fraction_of_gemm_peak'] * 100:.0f}% of the measured GEMM peak"
      f" ({a['gemm_peak_gflops']:.0f} GFLOP/s)", file=sys.stderr)
PY
}

run_pair small 256 4 5
if [ "${QUICK}" -eq 0 ]; then
  run_pair 124m 512 1 3
fi
echo "results appended to ${OUT_DIR}/model.jsonl" >&2
