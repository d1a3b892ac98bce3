// SPDX-License-Identifier: MIT
// SimtDevice (tests only): CudaDevice's code — CudaSystemTraits, device/cuda/cuda_system.hpp: the
// fast kernels of device/cuda/ and the row-major → column-major cuBLAS calls — compiled by the
// host compiler over the SIMT emulator (simt.hpp: CUDA threads as fibers, barrier and shuffle
// convergence checked) and its reference cuBLAS (cublas.hpp), with thrust's OpenMP backend for
// the portable kernels. Memory is host memory, so the CPU device's suites run on it unchanged
// (PREFOPT_TEST_SIMT, test_device.hpp; CTest label simt). What it cannot show — the CUDA backend of
// thrust, real cuBLAS, memory ordering, speed — is left to the GPU tests (label cuda).
#pragma once

#include "support/simt/cublas.hpp"
#include "support/simt/simt.hpp"
// The emulator's names must come first: device/cuda/ reads them instead of the CUDA toolkit's.
#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>

#include <cstddef>
#include <cstring>

#include "prefopt/device/cuda/cuda_system.hpp"

namespace prefopt::test {

/// Host memory in thrust's OpenMP vectors.
struct SimtMemory {
  static constexpr const char* name = "cuda-simt";
  static constexpr bool host_accessible = true;
  static constexpr bool synchronize_each_call = false;  // every emulated launch completes at once
  template <class T>
  using storage = thrust::system::omp::vector<T>;
};

/// The emulator in CudaRuntime's place: OpenMP for thrust's algorithms, memcpy for copies.
struct SimtRuntime {
  static auto policy() { return thrust::omp::par; }
  static void synchronize() {}
  static void last_error(const char* what) { thrust_device::cuda_detail::check_cuda(cudaGetLastError(), what); }
  static void copy(void* dst, const void* src, std::size_t bytes, thrust_device::CopyKind) {
    std::memcpy(dst, src, bytes);
  }
};

using SimtDevice = thrust_device::ThrustDevice<thrust_device::CudaSystemTraits<SimtMemory, SimtRuntime>>;

}  // namespace prefopt::test
