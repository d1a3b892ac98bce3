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
  static constexpr index_t embedding_classes = 1;  // one column block per core, as the CPU device
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
  /// Row-major batched GEMM (the contract of CudaSystemTraits::gemm_batched): for b < batch,
  /// C_b = alpha·op(A_b)·op(B_b) (=, C not read), X_b = X + b·stride_x, ld = row stride,
  /// op(A_b) (M, K), op(B_b) (K, N). The batch runs over OpenMP threads, each product a
  /// single-threaded Eigen GEMM (as the CPU device's attention does).
  template <class S>
  static void gemm_batched(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, S alpha, const S* A,
                           index_t lda, index_t stride_a, const S* B, index_t ldb, index_t stride_b, S* C,
                           index_t ldc, index_t stride_c, index_t batch) {
    using Map = Eigen::Map<const cpu::RowMatrix<S>, 0, Eigen::OuterStride<>>;
    PREFOPT_OMP(omp parallel for schedule(dynamic, 1) if (batch > 1))
    for (index_t b = 0; b < batch; ++b) {
      const Map a(A + b * stride_a, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
      const Map bm(B + b * stride_b, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
      cpu::StridedMap<S> c(C + b * stride_c, M, N, Eigen::OuterStride<>(ldc));
      if (trans_a && trans_b) c.noalias() = alpha * (a.transpose() * bm.transpose());
      else if (trans_a) c.noalias() = alpha * (a.transpose() * bm);
      else if (trans_b) c.noalias() = alpha * (a * bm.transpose());
      else c.noalias() = alpha * (a * bm);
    }
  }
};

using OmpDevice = ThrustDevice<OmpTraits>;

}  // namespace prefopt::thrust_device

namespace prefopt {
using thrust_device::OmpDevice;
}
