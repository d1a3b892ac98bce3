#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tokenizer throughput on one core: prefopt's bench_tokenizer and npm tiktoken (WASM) on the same
# texts (every chosen + rejected text of ../shared's harmless-base test split), in the same run.
# Prints the machine, one JSON line per implementation and mode, and the speed ratios; fails if the
# two disagree on the total token count.
#   benchmarks/tokenizer/run.sh [build dir] [repeats]      (default: build, 7)
# Build first: cmake --build <build dir> --target bench_tokenizer
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${HERE}/../.." && pwd)"
BUILD_DIR="${1:-${REPO_ROOT}/build}"
REPEATS="${2:-7}"
BENCH="${BUILD_DIR}/benchmarks/tokenizer/bench_tokenizer"
DATA="${PREFOPT_SHARED_DIR:-${REPO_ROOT}/../shared}/data/hh-rlhf/harmless-base-test.jsonl.gz"

[ -x "${BENCH}" ] || { echo "missing ${BENCH}: cmake --build ${BUILD_DIR} --target bench_tokenizer" >&2; exit 1; }
[ -f "${DATA}" ] || { echo "missing ${DATA}" >&2; exit 1; }
if [ ! -d "${HERE}/node_modules/tiktoken" ]; then
  (cd "${HERE}" && npm install --silent --no-audit --no-fund)
fi

export OMP_NUM_THREADS=1
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ${PIN[*]:-(no taskset)} OMP_NUM_THREADS=1, ${REPEATS} timed passes per mode, median"
ours="$("${PIN[@]}" "${BENCH}" --data "${DATA}" --repeats "${REPEATS}")"
theirs="$("${PIN[@]}" node "${HERE}/tiktoken_bench.mjs" "${DATA}" "${REPEATS}")"
printf '%s\n%s\n' "${ours}" "${theirs}"

OURS="${ours}" THEIRS="${theirs}" node -e '
  const parse = (s) => s.trim().split("\n").map((l) => JSON.parse(l));
  const ours = parse(process.env.OURS), theirs = parse(process.env.THEIRS);
  const peer = theirs.find((r) => r.mode === "warm");
  const counts = new Set([...ours, ...theirs].map((r) => r.tokens));
  if (counts.size !== 1) { console.error("token counts differ:", [...counts]); process.exit(1); }
  for (const r of ours)
    console.log(JSON.stringify({ ratio: `prefopt ${r.mode} / ${peer.impl} warm`, speedup: Number((r.mb_per_s / peer.mb_per_s).toFixed(2)) }));
'
