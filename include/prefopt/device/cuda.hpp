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

#include <cstddef>

#include "prefopt/device/cuda/cuda_system.hpp"

namespace prefopt::thrust_device {

/// The CUDA runtime under CudaSystemTraits.
struct CudaRuntime {
  // par_nosync: thrust::cuda::par would wait for every for_each to finish before returning, a
  // host round trip per kernel (hundreds per training step). Kernels, cuBLAS calls and the
  // blocking cudaMemcpy of copy() all queue on the legacy default stream, so their order holds
  // without it; launch errors still surface in last_error(), execution errors at the next copy.
  static auto policy() { return thrust::cuda::par_nosync; }
  static void synchronize() { cuda_detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
  static void last_error(const char* what) { cuda_detail::check_cuda(cudaGetLastError(), what); }
  static void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind) {
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
}
