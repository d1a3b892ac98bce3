// SPDX-License-Identifier: MIT
// CudaManagedDevice (tests only): CudaDevice's code — thrust's CUDA system, cuBLAS GEMMs and the
// fast kernels of device/cuda/ — over CUDA managed memory (cudaMallocManaged, through thrust's
// cuda::universal_vector). Its buffers are host accessible, and it synchronizes after every
// kernel and GEMM (CudaSystemTraits::check, synchronize_each_call), so the CPU device's suites, which read and write
// buffers directly, run on a GPU unchanged (PREFOPT_TEST_CUDA, test_device.hpp). Plain
// CudaDevice keeps device memory and asynchronous launches; this device exists for testing.
//
// ManagedAllocator gives the suites' own std::vectors managed storage too (test::Vector in
// test_device.hpp), since the kernel suite hands std::vector buffers straight to the kernels.
#pragma once

#if !defined(__CUDACC__)
#error "tests/support/cuda_managed_device.hpp needs nvcc"
#endif

#include <cuda_runtime.h>
#include <thrust/system/cuda/vector.h>

#include <cstddef>
#include <new>

#include "prefopt/device/cuda.hpp"

namespace prefopt::test {

struct ManagedMemory {
  static constexpr const char* name = "cuda-managed";
  static constexpr bool host_accessible = true;
  static constexpr bool synchronize_each_call = true;
  template <class T>
  using storage = thrust::cuda::universal_vector<T>;
};

using CudaManagedDevice = thrust_device::ThrustDevice<thrust_device::CudaSystemTraits<ManagedMemory, thrust_device::CudaRuntime>>;

/// std::allocator's interface over cudaMallocManaged (256-byte aligned, so it also stands in for
/// the CPU device's 64-byte AlignedVector).
template <class T>
struct ManagedAllocator {
  using value_type = T;
  ManagedAllocator() = default;
  template <class U>
  ManagedAllocator(const ManagedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n == 0) n = 1;
    void* p = nullptr;
    if (cudaMallocManaged(&p, n * sizeof(T)) != cudaSuccess) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { (void)cudaFree(p); }
  template <class U>
  bool operator==(const ManagedAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const ManagedAllocator<U>&) const noexcept {
    return false;
  }
};

}  // namespace prefopt::test
