#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A rank that throws brings the job down: mpirun exits non-zero within seconds (no hang), the
# error names the rank, the checkpoints written before it are intact, and a rerun resumes from
# them and ends byte for byte as a run that never failed.
#   mpi_rank_failure_test.sh PROGRAM MPIRUN [mpirun options...]
set -euo pipefail
program="$1"; shift
mpirun=("$@")
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
cd "${work}"
fail() { echo "FAIL: $*"; exit 1; }

"${mpirun[@]}" "${program}" train whole > whole.log 2>&1 || { cat whole.log; fail "the run without a failure"; }

start=$(date +%s)
rc=0
timeout 120 "${mpirun[@]}" "${program}" train failed --fail-rank 1 > failed.log 2>&1 || rc=$?
took=$(( $(date +%s) - start ))
cat failed.log
[ "${rc}" -ne 0 ] || fail "mpirun exited 0 although rank 1 threw"
[ "${rc}" -ne 124 ] || fail "the job hung (killed by timeout after 120 s)"
[ "${took}" -le 30 ] || fail "mpirun took ${took} s to end the job"
grep -q "error on rank 1 of 2: injected failure in the loss" failed.log || fail "the error does not name the failing rank"
echo "rank 1 threw: mpirun exited ${rc} after ${took} s"
[ -d failed/checkpoint-2 ] || fail "checkpoint-2 (written before the failure) is missing"
[ ! -d failed/checkpoint-3 ] || fail "checkpoint-3 exists although step 3 failed"

"${program}" verify failed > verify.log 2>&1 || { cat verify.log; fail "a checkpoint left by the failed run does not load"; }
cat verify.log
"${mpirun[@]}" "${program}" train failed > resumed.log 2>&1 || { cat resumed.log; fail "resuming after the failure"; }
grep -q "resumed from" resumed.log || { cat resumed.log; fail "the rerun did not resume"; }
cmp whole/model.safetensors failed/model.safetensors || fail "the resumed run's weights differ from the run that never failed"
echo "PASS"
