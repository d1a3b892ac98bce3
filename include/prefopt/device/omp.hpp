// SPDX-License-Identifier: MIT
// OmpDevice: the CUDA device's thrust code on thrust's OpenMP backend, compiled by any C++17
// compiler with OpenMP — CI's stand-in for a GPU (GUIDE §6). Memory is host memory, so the GEMMs
// go to Eigen (the CPU device's matmul) and tests may read buffers directly. Needs thrust's
// headers (the CUDA toolkit's include/cccl; CMake target prefopt::thrust_omp).
#pragma once

#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>

#include <cstring>

#include "prefopt/device/cpu/cpu_device.hpp"
#include "prefopt/device/cpu/matmul.hpp"
#include "prefopt/device/thrust/kernels.hpp"

namespace prefopt::thrust_device {

struct OmpTraits {
  static constexpr const char* name = "thrust-omp";
  static constexpr bool host_accessible = true;
  template <class T>
  using storage = thrust::system::omp::vector<T>;
  static auto policy() { return thrust::omp::par; }
  static void synchronize() noexcept {}
  static void check(const char*) noexcept {}
  static void copy(void* dst, const void* src, std::size_t bytes, bool /*to_device*/) { std::memcpy(dst, src, bytes); }

  template <class S>
  static void matmul_forward(S* out, const S* inp, const S* weight, const S* bias, index_t rows, index_t in_dim,
                             index_t out_dim, WeightLayout layout) {
    cpu::matmul_forward(cpu::CpuDevice{}, out, inp, weight, bias, rows, in_dim, out_dim, layout);
  }
  template <class S>
  static void matmul_backward(S* dinp, S* dweight, S* dbias, const S* dout, const S* inp, const S* weight,
                              index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout) {
    cpu::matmul_backward(cpu::CpuDevice{}, dinp, dweight, dbias, dout, inp, weight, rows, in_dim, out_dim, layout);
  }
};

using OmpDevice = ThrustDevice<OmpTraits>;

}  // namespace prefopt::thrust_device

namespace prefopt {
using thrust_device::OmpDevice;
}
