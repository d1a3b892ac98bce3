// SPDX-License-Identifier: MIT
// The CUDA runtime seam of CudaDevice's own kernels (device/cuda/): error checks, kernel launch,
// launch shapes and per-thread device scratch. Compiled by nvcc against <cuda_runtime.h>, or —
// tests only — by a host compiler against the SIMT emulator (tests/support/simt/), which defines
// PREFOPT_SIMT_EMULATOR and the runtime's names before this header is read. The emulator runs
// every kernel of device/cuda/ on CPU fibers, checking barrier and warp-shuffle convergence, so
// CI (no GPU) tests the fast kernels' indexing and reductions; the GPU tests still compare them
// on real hardware.
//
// Kernels are launched through launch() rather than `<<<grid, block>>>`: the same call then
// compiles for both.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#elif !defined(PREFOPT_SIMT_EMULATOR)
#error "prefopt/device/cuda/ needs a CUDA compiler (nvcc); use prefopt/device/omp.hpp for the OpenMP twin"
#endif

#include <cstddef>
#include <string>
#include <utility>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt::thrust_device {

namespace cuda_detail {
inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
}  // namespace cuda_detail

namespace cuda_kernels {

/// kernel<<<grid, block>>>(args...) on the default stream (nvcc), or on the emulator's fibers.
/// Launch errors surface at the caller's next check (cudaGetLastError), as with `<<<>>>`.
template <class... Params, class... Args>
inline void launch(void (*kernel)(Params...), dim3 grid, dim3 block, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: one argument per kernel parameter");
#if defined(__CUDACC__)
  kernel<<<grid, block>>>(static_cast<Params>(std::forward<Args>(args))...);
#else
  prefopt_simt::launch(kernel, grid, block, static_cast<Params>(std::forward<Args>(args))...);
#endif
}

inline unsigned grid_size(index_t tasks, index_t per_block) {
  return static_cast<unsigned>((tasks + per_block - 1) / per_block);
}

/// Device scratch for one host thread, grown on demand and kept (kernels on the default stream
/// run in order, so one kernel sequence may reuse it as soon as the previous one is queued —
/// callers use it only between their own launches). Released at thread exit, errors ignored.
inline void* scratch(std::size_t bytes) {
  struct Holder {
    void* p = nullptr;
    std::size_t size = 0;
    ~Holder() {
      if (p) (void)cudaFree(p);
    }
  };
  thread_local Holder h;
  if (bytes > h.size) {
    if (h.p) {
      cudaError_t e = cudaFree(h.p);
      h.p = nullptr;
      h.size = 0;
      cuda_detail::check_cuda(e, "cudaFree (scratch)");
    }
    cuda_detail::check_cuda(cudaMalloc(&h.p, bytes), "cudaMalloc (scratch)");
    h.size = bytes;
  }
  return h.p;
}

}  // namespace cuda_kernels
}  // namespace prefopt::thrust_device
