#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds, on this (GPU-less) machine, what benchmarks/run_cuda_checks.sh runs on a GPU machine that
# has the CUDA 13 runtime, cuBLAS and PyTorch but none of prefopt's build dependencies, and fills
# .gpu/ in the repository root (git-ignored; carried to the GPU machine by the device tool):
#   .gpu/bin/     cuda_device_test device_kernels_test_cuda model_test_cuda train_test_cuda
#                 let_me_explain_cuda bench_cuda_step (nvcc, sm_90 only: H100/H200) and prefopt
#                 (the CPU CLI), debug info stripped
#   .gpu/lib/     every shared library they need (ldd) except glibc's (libc, libm, libdl,
#                 libpthread, librt, ld-linux) and the CUDA/NVIDIA ones (libcudart, libcublas,
#                 libcublasLt, libnccl, libcuda), which the GPU machine provides; libstdc++,
#                 libgcc_s and libgomp included
#   .gpu/glibc/   this machine's glibc libraries and loader: a fallback only, used by
#                 run_cuda_checks.sh when the GPU machine's glibc is older than .gpu/lib needs
#   .gpu/data/    gpt2/ (the tokenizer), hh-rlhf-harmless-base-test.pairs.jsonl (id pairs made
#                 here by `prefopt pairs`, the real DPO workload)
#   .gpu/shared/  data/hh-rlhf/ (a copy of ../shared/data/hh-rlhf, the build's PREFOPT_SHARED_DIR)
#   .gpu/MANIFEST key=value lines (git commit, build time, source_dir, binary_dir, shared_dir,
#                 CUDA arch, nvcc, glibc needed) and the files with their sizes
# The test binaries have absolute paths compiled in (PREFOPT_FIXTURES_DIR=<source_dir>/tests/...,
# PREFOPT_BINARY_DIR=<binary_dir>, PREFOPT_SHARED_DIR); run_cuda_checks.sh recreates them on the
# GPU machine from MANIFEST. MPI is left out of this build (no libmpi there; let_me_explain_cuda
# then runs on one GPU without NCCL), and so is -march=native (the GPU machine's CPU is unknown).
#
#   scripts/gpu_bundle.sh        (idempotent; build dir $PREFOPT_GPU_BUILD_DIR or ../build-gpu,
#                                 parallel jobs $JOBS, default 1)
# Needs nvcc (/usr/local/cuda), data/gpt2 (scripts/setup.sh) and ../shared/data/hh-rlhf.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFOPT_GPU_BUILD_DIR:-$(cd "${REPO_ROOT}/.." && pwd)/build-gpu}"
JOBS="${JOBS:-1}"
SHARED_SRC="${REPO_ROOT}/../shared"
BUNDLE="${REPO_ROOT}/.gpu"
MAX_MIB=50

say() { printf '[gpu_bundle] %s\n' "$*" >&2; }
die() { printf '[gpu_bundle] error: %s\n' "$*" >&2; exit 1; }

[ -f "${REPO_ROOT}/data/gpt2/vocab.json" ] && [ -f "${REPO_ROOT}/data/gpt2/merges.txt" ] \
  || die "data/gpt2 (vocab.json, merges.txt) missing: run scripts/setup.sh"
[ -f "${SHARED_SRC}/data/hh-rlhf/harmless-base-test.jsonl.gz" ] \
  || die "${SHARED_SRC}/data/hh-rlhf/harmless-base-test.jsonl.gz missing"
SHARED_DIR="$(cd "${SHARED_SRC}" && pwd -P)"

# ---- build ---------------------------------------------------------------------------------------
# A build directory made from another checkout cannot be reconfigured for this one (CMake refuses a
# different source directory, and the binaries would carry that checkout's paths): start it afresh.
if [ -f "${BUILD_DIR}/CMakeCache.txt" ]; then
  cached_src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "${BUILD_DIR}/CMakeCache.txt")"
  if [ "$(cd "${cached_src}" 2>/dev/null && pwd -P)" != "$(cd "${REPO_ROOT}" && pwd -P)" ]; then
    say "${BUILD_DIR} was configured for ${cached_src}, not ${REPO_ROOT}: removing it"
    rm -rf "${BUILD_DIR}"
  fi
fi
say "configure ${BUILD_DIR} (Release, CUDA arch 90, tests+examples+benchmarks, no MPI, no -march=native)"
cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Release \
  -DPREFOPT_BUILD_TESTS=ON -DPREFOPT_BUILD_EXAMPLES=ON -DPREFOPT_BUILD_BENCHMARKS=ON \
  -DPREFOPT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DPREFOPT_NATIVE=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DPREFOPT_SHARED_DIR="${SHARED_DIR}" >"${BUILD_DIR}.configure.log" 2>&1 \
  || { cat "${BUILD_DIR}.configure.log" >&2; die "cmake configure failed"; }
TARGETS=(cuda_device_test device_kernels_test_cuda model_test_cuda train_test_cuda let_me_explain_cuda
         bench_cuda_step prefopt_cli)
say "build ${TARGETS[*]} (-j${JOBS})"
t0=$(date +%s)
cmake --build "${BUILD_DIR}" --target "${TARGETS[@]}" -j"${JOBS}" >"${BUILD_DIR}.build.log" 2>&1 \
  || { tail -50 "${BUILD_DIR}.build.log" >&2; die "build failed (log: ${BUILD_DIR}.build.log)"; }
say "built in $(( $(date +%s) - t0 )) s"

# What CMake compiled into the binaries: its own record of the source and binary directories.
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "${BUILD_DIR}/CMakeCache.txt" | head -1; }
SOURCE_DIR="$(cache_value CMAKE_HOME_DIRECTORY)"
BINARY_DIR="$(cache_value CMAKE_CACHEFILE_DIR)"
[ "$(cache_value PREFOPT_SHARED_DIR)" = "${SHARED_DIR}" ] || die "PREFOPT_SHARED_DIR in the cache is not ${SHARED_DIR}"

declare -A BIN_PATH=(
  [cuda_device_test]=tests/device/cuda_device_test
  [device_kernels_test_cuda]=tests/device/device_kernels_test_cuda
  [model_test_cuda]=tests/model/model_test_cuda
  [train_test_cuda]=tests/train/train_test_cuda
  [let_me_explain_cuda]=examples/let_me_explain_cuda
  [bench_cuda_step]=benchmarks/bench_cuda_step
  [prefopt]=examples/prefopt
)

# ---- fill .gpu (in a fresh folder, moved into place at the end) ----------------------------------
stage="${REPO_ROOT}/.gpu.new"
rm -rf "${stage}"
mkdir -p "${stage}/bin" "${stage}/lib" "${stage}/glibc" "${stage}/data" "${stage}/shared/data"
for name in "${!BIN_PATH[@]}"; do
  src="${BUILD_DIR}/${BIN_PATH[${name}]}"
  [ -x "${src}" ] || die "missing ${src}"
  cp "${src}" "${stage}/bin/${name}"
  strip --strip-debug "${stage}/bin/${name}"
done

# Shared libraries: everything ldd resolves, less glibc's and the GPU machine's CUDA/NVIDIA ones.
is_glibc() { case "$1" in libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*|linux-vdso*) return 0 ;; *) return 1 ;; esac; }
is_cuda() { case "$1" in libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*|libcuda.so*|libnvidia*) return 0 ;; *) return 1 ;; esac; }
declare -A GLIBC_FILES=()
for bin in "${stage}"/bin/*; do
  while read -r soname path; do
    [ -n "${soname}" ] || continue
    if is_cuda "${soname}"; then continue; fi
    if is_glibc "${soname}"; then
      [ -n "${path}" ] && [ -f "${path}" ] && GLIBC_FILES["${soname}"]="${path}"
      continue
    fi
    [ -n "${path}" ] && [ -f "${path}" ] || die "$(basename "${bin}") needs ${soname}, which ldd does not resolve here"
    [ -f "${stage}/lib/${soname}" ] || cp -L "${path}" "${stage}/lib/${soname}"
  done < <(ldd "${bin}" | awk '/=>/ {print $1, $3; next} /ld-linux/ {n = split($1, p, "/"); print p[n], $1}')
done
for lib in libstdc++.so.6 libgcc_s.so.1 libgomp.so.1; do  # whether or not a binary names them
  [ -f "${stage}/lib/${lib}" ] && continue
  path="$(ldconfig -p | awk -v l="${lib}" '$1 == l && /x86-64/ {print $NF; exit}')"
  [ -n "${path}" ] || die "cannot find ${lib}"
  cp -L "${path}" "${stage}/lib/${lib}"
done
# The fallback glibc: the loader and the libraries the binaries name.
for soname in "${!GLIBC_FILES[@]}"; do
  case "${soname}" in linux-vdso*) continue ;; esac
  cp -L "${GLIBC_FILES[${soname}]}" "${stage}/glibc/${soname}"
done

# Nothing may be left that neither .gpu/lib, glibc nor the CUDA libraries provide.
for bin in "${stage}"/bin/*; do
  left="$(LD_LIBRARY_PATH="${stage}/lib" ldd "${bin}" | awk '/=>/ {print $1, $3}' | while read -r soname path; do
            if is_glibc "${soname}" || is_cuda "${soname}"; then continue; fi
            case "${path}" in "${stage}/lib/"*) ;; *) echo "${soname} -> ${path}" ;; esac
          done)"
  [ -z "${left}" ] || die "$(basename "${bin}") still resolves outside .gpu/lib: ${left}"
done
# The stripped binaries still start: the _cuda suites print Catch2's help without a GPU;
# cuda_device_test checks for a GPU first (exit 77, "SKIPPED: no CUDA device" here); --help.
starts() {  # expected-status name args...: runs .gpu/bin/name, dies unless it exits as expected
  local want="$1" name="$2" rc=0; shift 2
  LD_LIBRARY_PATH="${stage}/lib" "${stage}/bin/${name}" "$@" >"${BUILD_DIR}.start.log" 2>&1 || rc=$?
  [ "${rc}" -eq "${want}" ] || { cat "${BUILD_DIR}.start.log" >&2; die "stripped ${name} $* exits ${rc}, not ${want}"; }
}
starts 0 model_test_cuda -h          # Catch2's help (its --list-* exit with the number of tests)
starts 0 device_kernels_test_cuda -h
starts 0 train_test_cuda -h
starts 0 bench_cuda_step train --help
starts 0 let_me_explain_cuda --help
starts 0 prefopt --help
if nvidia-smi -L >/dev/null 2>&1; then starts 0 cuda_device_test -h
else starts 77 cuda_device_test -h; fi

# Data: the tokenizer, the real DPO workload's id pairs (made here with the CPU CLI), hh-rlhf rows.
cp -r "${REPO_ROOT}/data/gpt2" "${stage}/data/gpt2"
PAIRS="${stage}/data/hh-rlhf-harmless-base-test.pairs.jsonl"
LD_LIBRARY_PATH="${stage}/lib" "${stage}/bin/prefopt" pairs --data "${SHARED_DIR}/data/hh-rlhf/harmless-base-test.jsonl.gz" \
  --tokenizer "${REPO_ROOT}/data/gpt2" --out "${PAIRS}" >"${BUILD_DIR}.pairs.log" 2>&1 \
  || { cat "${BUILD_DIR}.pairs.log" >&2; die "prefopt pairs failed"; }
say "pairs: $(wc -l <"${PAIRS}") hh-rlhf pairs (harmless-base test)"
cp -r "${SHARED_DIR}/data/hh-rlhf" "${stage}/shared/data/hh-rlhf"
chmod -R u+w "${stage}/shared"

# ---- MANIFEST --------------------------------------------------------------------------------------
commit="$(git -C "${REPO_ROOT}" rev-parse HEAD)"
dirty="$(git -C "${REPO_ROOT}" status --porcelain --untracked-files=no | grep -q . && echo yes || echo no)"
glibc_needed="$(for f in "${stage}"/bin/* "${stage}"/lib/*; do objdump -T "${f}" 2>/dev/null; done \
                | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
{
  echo "# prefopt GPU bundle: scripts/gpu_bundle.sh; run with benchmarks/run_cuda_checks.sh (docs/gpu-checks.md)"
  echo "git_commit=${commit}"
  echo "git_dirty=${dirty}"
  echo "git_branch=$(git -C "${REPO_ROOT}" rev-parse --abbrev-ref HEAD)"
  echo "build_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build_host_os=$(. /etc/os-release && echo "${PRETTY_NAME}")"
  echo "source_dir=${SOURCE_DIR}"
  echo "binary_dir=${BINARY_DIR}"
  echo "shared_dir=${SHARED_DIR}"
  echo "cuda_architectures=$(cache_value CMAKE_CUDA_ARCHITECTURES)"
  echo "nvcc=$(cache_value CMAKE_CUDA_COMPILER) $("$(cache_value CMAKE_CUDA_COMPILER)" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  echo "cxx=$(cache_value CMAKE_CXX_COMPILER) $("$(cache_value CMAKE_CXX_COMPILER)" -dumpfullversion)"
  echo "glibc_built=$(ldd --version | head -1 | awk '{print $NF}')"
  echo "glibc_needed=${glibc_needed#GLIBC_}"
  echo "pairs=data/$(basename "${PAIRS}")"
  echo "# files (bytes, path under .gpu)"
  (cd "${stage}" && find . -type f ! -name MANIFEST -printf '%s %P\n' | sort -k2)
} >"${stage}/MANIFEST"

size_kib="$(du -sk "${stage}" | awk '{print $1}')"
[ "${size_kib}" -le $(( MAX_MIB * 1024 )) ] || die "bundle is $(( size_kib / 1024 )) MiB, over ${MAX_MIB} MiB"
rm -rf "${BUNDLE}"
mv "${stage}" "${BUNDLE}"
du -sh "${BUNDLE}"/* | sed "s|${REPO_ROOT}/||" >&2
printf '[gpu_bundle] .gpu: %s MiB (%s KiB, limit %s MiB), commit %s%s\n' "$(( (size_kib + 1023) / 1024 ))" "${size_kib}" \
  "${MAX_MIB}" "${commit:0:12}" "$([ "${dirty}" = yes ] && echo ' (tracked files modified)')"
