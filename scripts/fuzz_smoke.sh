#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds every libFuzzer target with clang-14 (ASan + UBSan) and runs each briefly on its seed
# corpus: the CI check that the fuzz targets build and stay clean. Long runs are documented in
# docs/fuzzing.md and docs/tokenizer.md.
#   scripts/fuzz_smoke.sh [seconds per target, default 30]
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER_TARGET="${1:-30}"
BUILD="${PREFOPT_FUZZ_BUILD_DIR:-${REPO_ROOT}/build-fuzz}"
SHARED="${REPO_ROOT}/../shared"

echo "[fuzz] configuring ${BUILD} with clang++-14"
cmake -S "${REPO_ROOT}" -B "${BUILD}" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPREFOPT_FUZZ=ON -DPREFOPT_BUILD_TESTS=OFF -DPREFOPT_BUILD_EXAMPLES=OFF -DPREFOPT_BUILD_BENCHMARKS=OFF \
  -DPREFOPT_CUDA=OFF >/dev/null
cmake --build "${BUILD}" --target fuzz_safetensors_header fuzz_hf_config fuzz_seed_corpus \
  fuzz_tokenizer fuzz_jsonl fuzz_gzip -j"$(nproc)" >/dev/null

corpora="${BUILD}/smoke-corpora"
rm -rf "${corpora}" && mkdir -p "${corpora}"
have_shared=0
[ -f "${SHARED}/data/hh-rlhf/harmless-base-test.jsonl.gz" ] && have_shared=1
if [ "${have_shared}" -eq 1 ]; then
  node "${REPO_ROOT}/fuzz/tokenizer/make_seed_corpus.mjs" "${corpora}/tokenizer" "${SHARED}" >/dev/null
  sh "${REPO_ROOT}/fuzz/data/make_corpus.sh" "${corpora}/data" "${SHARED}/data/hh-rlhf/harmless-base-test.jsonl.gz" >/dev/null
else
  echo "[fuzz] ../shared absent: tokenizer and data targets start from an empty corpus"
  mkdir -p "${corpora}/tokenizer" "${corpora}/data/jsonl" "${corpora}/data/gzip"
fi

run() {  # name binary dict corpus-dirs...
  local name="$1" bin="$2" dict="$3"; shift 3
  local work="${corpora}/run-${name}"
  mkdir -p "${work}/corpus" "${work}/artifacts"
  local args=(-max_total_time="${SECONDS_PER_TARGET}" -max_len=4096 -timeout=10 -rss_limit_mb=4096
              -print_final_stats=1 -artifact_prefix="${work}/artifacts/")
  [ -n "${dict}" ] && args+=(-dict="${dict}")
  if "${bin}" "${args[@]}" "${work}/corpus" "$@" >"${work}/log" 2>&1; then
    echo "[fuzz] ${name}: clean, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "${work}/log" | grep -o '[0-9]*$') executions in ${SECONDS_PER_TARGET} s"
  else
    tail -40 "${work}/log"
    echo "[fuzz] ${name}: FAILED (artifacts in ${work}/artifacts)"
    return 1
  fi
}

# The targets run nproc at a time (each libFuzzer process is single-threaded); each writes its
# verdict to a status file, read once all have finished.
F="${BUILD}/fuzz"
JOBS="$(nproc)"
start() {  # name binary dict corpus-dirs...
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS}" ]; do sleep 1; done
  local verdict="${corpora}/status-$1"
  ( if run "$@"; then echo 0 >"${verdict}"; else echo 1 >"${verdict}"; fi ) &
}
start safetensors_header "${F}/fuzz_safetensors_header" "${REPO_ROOT}/fuzz/safetensors.dict" "${F}/seed_corpus"
start hf_config "${F}/fuzz_hf_config" "${REPO_ROOT}/fuzz/hf_config.dict" "${F}/seed_corpus_config"
start tokenizer "${F}/tokenizer/fuzz_tokenizer" "" "${corpora}/tokenizer"
start jsonl "${F}/data/fuzz_jsonl" "${REPO_ROOT}/fuzz/data/jsonl.dict" "${corpora}/data/jsonl"
start gzip "${F}/data/fuzz_gzip" "" "${corpora}/data/gzip"
wait
status=0
for name in safetensors_header hf_config tokenizer jsonl gzip; do
  verdict="$(cat "${corpora}/status-${name}" 2>/dev/null || true)"
  [ "${verdict}" = "0" ] || { echo "[fuzz] ${name}: no clean verdict"; status=1; }
done
exit "${status}"
