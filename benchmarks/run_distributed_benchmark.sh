#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Data parallelism on this machine (issue 7): DPO-step throughput of 1 rank x 2 threads against
# 2 ranks x 1 thread at the same global batch, for the small and the 124M config, for prefopt
# (bench_distributed, MPI) and its PyTorch peer (pytorch_dpo_step.py, DDP over gloo), and the time of
# the 124M gradient block's all-reduce for several bucket sizes. Appends JSON lines to
# benchmarks/results/distributed.jsonl (or $1) and prints them.
#   benchmarks/run_distributed_benchmark.sh [results.jsonl] [--quick]
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFOPT_BUILD_DIR:-${REPO_ROOT}/build}"
results="${1:-${REPO_ROOT}/benchmarks/results/distributed.jsonl}"
quick="${2:-}"
bench="${BUILD_DIR}/benchmarks/bench_distributed"
[ -x "${bench}" ] || { echo "build first: bash scripts/test.sh (or cmake --build ${BUILD_DIR} --target bench_distributed)"; exit 1; }
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1)
PY=/usr/bin/python3  # Debian's python3, which has python3-torch (scripts/setup.sh installs it with OpenBLAS)
PEER="${REPO_ROOT}/benchmarks/reference/pytorch_dpo_step.py"
stamp() { python3 -c "import json,sys,datetime; j=json.loads(sys.argv[1]); j['setup']=sys.argv[2]; j['date']=datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%MZ'); j['host_cores']=$(nproc); print(json.dumps(j))" "$1" "$2"; }
run() {  # run <label> <command...>: rank 0's JSON line, labelled
  local label="$1" line
  shift
  line="$("$@" 2> "${results}.stderr" | grep '^{')" || { cat "${results}.stderr"; echo "FAILED: $*"; exit 1; }
  stamp "${line}" "${label}" | tee -a "${results}"
}

small_steps=6; big_steps=2
if [ "${quick}" = "--quick" ]; then small_steps=3; big_steps=1; fi
for config in small 124m; do
  if [ "${config}" = small ]; then steps=${small_steps}; batch=8; else steps=${big_steps}; batch=4; fi
  run "1 rank x 2 threads" env OMP_NUM_THREADS=2 "${bench}" --mode dpo-step --config "${config}" --global-batch "${batch}" --steps "${steps}"
  run "2 ranks x 1 thread" "${mpirun[@]}" "${bench}" --mode dpo-step --config "${config}" --global-batch "${batch}" --steps "${steps}"
  # The peer: eager PyTorch, one process and DistributedDataParallel over gloo, same shapes and global batch.
  run "1 rank x 2 threads" "${PY}" "${PEER}" --config "${config}" --batch "${batch}" --steps "${steps}" --threads 2
  run "2 ranks x 1 thread" "${PY}" "${PEER}" --config "${config}" --batch "${batch}" --steps "${steps}" --threads 1 --world-size 2
done
rm -f "${results}.stderr"
for bucket in 1 4 16 64 512; do
  run "2 ranks, all-reduce" "${mpirun[@]}" "${bench}" --mode allreduce --params 124439808 --bucket-mib "${bucket}" --repeats 5
done
rm -f "${results}.stderr"
