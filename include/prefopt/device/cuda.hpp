// SPDX-License-Identifier: MIT
// CudaDevice: the thrust device on thrust's CUDA backend, with GEMMs through cuBLAS. Include it
// from a CUDA translation unit (nvcc; CMake target prefopt::cuda). Storage is device memory
// (host_accessible = false): programs copy through copy_to_host / copy_from_host, which the model
// does only at the edges (loading, logging, saving); a training step stays on the GPU.
//
// Kernels: the portable thrust functors of device/thrust/ (what OmpDevice runs too), except
// LayerNorm forward/backward, the fused log-softmax + gather forward/backward and the attention's
// causal-softmax rows, which are overloaded with warp/block-per-row CUDA kernels (device/cuda/),
// and the bias gradient, a two-pass column sum (device/cuda/column_sum.hpp). The dense layers' and
// the attention's products are cuBLAS GEMMs (device/cuda/gemm.hpp; strided-batched over the heads
// of a sequence in the attention). All of that is CudaSystemTraits (device/cuda/cuda_system.hpp);
// this file adds the CUDA runtime. The portable twins stay callable on CudaDevice as
// thrust_device::portable::<kernel>.
#pragma once

#if !defined(__CUDACC__)
#error "prefopt/device/cuda.hpp needs a CUDA compiler (nvcc); use prefopt/device/omp.hpp for the OpenMP twin"
#endif

#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system/cuda/vector.h>

#include <atomic>
#include <cstddef>
#include <iostream>
#include <memory>
#include <vector>

#include "prefopt/device/cuda/cuda_system.hpp"
#include "prefopt/device/staged_upload_ring.hpp"

namespace prefopt::thrust_device {

/// StagedUploadRing's runtime on CUDA: pinned memory from cudaHostAlloc, copies and events on
/// the legacy default stream (the one the kernels and cuBLAS run on).
struct CudaStagingRuntime {
  using event_type = cudaEvent_t;
  void* alloc_pinned(std::size_t bytes) {
    void* p = nullptr;
    cuda_detail::check_cuda(cudaHostAlloc(&p, bytes, cudaHostAllocPortable), "cudaHostAlloc (upload staging)");
    return p;
  }
  void free_pinned(void* p) noexcept { (void)cudaFreeHost(p); }
  event_type create_event() {
    cudaEvent_t e = nullptr;
    cuda_detail::check_cuda(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate (upload staging)");
    return e;
  }
  void destroy_event(event_type e) noexcept { (void)cudaEventDestroy(e); }
  void copy_async(void* dst, const void* src, std::size_t bytes) {
    cuda_detail::check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync");
  }
  void record(event_type e) { cuda_detail::check_cuda(cudaEventRecord(e, 0), "cudaEventRecord (upload staging)"); }
  void wait(event_type e) { cuda_detail::check_cuda(cudaEventSynchronize(e), "cudaEventSynchronize (upload staging)"); }
  bool done(event_type e) {
    const cudaError_t r = cudaEventQuery(e);
    if (r == cudaErrorNotReady) return false;
    cuda_detail::check_cuda(r, "cudaEventQuery (upload staging)");
    return true;
  }
  void copy_blocking(void* dst, const void* src, std::size_t bytes) {
    cuda_detail::check_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
};

namespace cuda_detail {
inline std::atomic<bool>& staged_uploads_flag() {
  static std::atomic<bool> on{true};
  return on;
}
/// The calling thread's staging ring for the current device (events belong to a device, so a
/// thread that switches devices gets one ring per device), or nullptr where pinned memory could
/// not be had (said once on stderr; that device's uploads then stay blocking copies). Freed at
/// thread exit.
inline StagedUploadRing<CudaStagingRuntime>* upload_ring() {
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  struct Slot {
    std::unique_ptr<StagedUploadRing<CudaStagingRuntime>> ring;
    bool unavailable = false;
  };
  thread_local std::vector<Slot> slots;
  if (static_cast<std::size_t>(device) >= slots.size()) slots.resize(static_cast<std::size_t>(device) + 1);
  Slot& slot = slots[static_cast<std::size_t>(device)];
  if (!slot.ring && !slot.unavailable) {
    try {
      slot.ring = std::make_unique<StagedUploadRing<CudaStagingRuntime>>(CudaStagingRuntime{});
    } catch (const Error& e) {
      (void)cudaGetLastError();  // the failed allocation is not a launch error of the next kernel
      slot.unavailable = true;
      std::cerr << "[prefopt] no pinned staging memory on CUDA device " << device << " (" << e.what()
                << "): host-to-device uploads stay blocking cudaMemcpy calls\n";
    }
  }
  return slot.ring.get();
}
}  // namespace cuda_detail

/// Host → device uploads staged through pinned memory and queued asynchronously (the default),
/// or blocking cudaMemcpy calls from the caller's pageable memory (off; for comparisons).
inline void set_cuda_staged_uploads(bool on) { cuda_detail::staged_uploads_flag().store(on); }
inline bool cuda_staged_uploads() { return cuda_detail::staged_uploads_flag().load(); }

/// The CUDA runtime under CudaSystemTraits.
struct CudaRuntime {
  // par_nosync: thrust::cuda::par would wait for every for_each to finish before returning, a
  // host round trip per kernel (hundreds per training step). Kernels, cuBLAS calls, the staged
  // uploads' cudaMemcpyAsync and the blocking cudaMemcpy of the downloads all queue on the legacy
  // default stream, so their order holds without it; launch errors still surface in
  // last_error(), execution errors at the next download.
  static auto policy() { return thrust::cuda::par_nosync; }
  static void synchronize() { cuda_detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
  static void last_error(const char* what) { cuda_detail::check_cuda(cudaGetLastError(), what); }
  static void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind) {
    // An upload from pageable memory would first wait for the stream to drain; staged through
    // pinned memory it is queued behind the kernels instead (device/staged_upload_ring.hpp).
    if (kind == CopyKind::host_to_device && cuda_staged_uploads()) {
      if (auto* ring = cuda_detail::upload_ring()) {
        ring->upload(dst, src, bytes);
        return;
      }
    }
    const cudaMemcpyKind k = kind == CopyKind::either           ? cudaMemcpyDefault
                             : kind == CopyKind::host_to_device ? cudaMemcpyHostToDevice
                                                                : cudaMemcpyDeviceToHost;
    cuda_detail::check_cuda(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
  }
};

namespace cuda_memory {
/// CudaDevice's memory: plain device memory, reached from the host only through copies.
struct Device {
  static constexpr const char* name = "cuda";
  static constexpr bool host_accessible = false;
  static constexpr bool synchronize_each_call = false;
  template <class T>
  using storage = thrust::system::cuda::vector<T>;
};
}  // namespace cuda_memory

using CudaTraits = CudaSystemTraits<cuda_memory::Device, CudaRuntime>;
using CudaDevice = ThrustDevice<CudaTraits>;

}  // namespace prefopt::thrust_device

namespace prefopt {
using thrust_device::CudaDevice;
using thrust_device::cuda_tf32;
using thrust_device::set_cuda_tf32;
using thrust_device::CudaGemmPrecision;
using thrust_device::cuda_gemm_precision;
using thrust_device::set_cuda_gemm_precision;
using thrust_device::cuda_staged_uploads;
using thrust_device::set_cuda_staged_uploads;
}
