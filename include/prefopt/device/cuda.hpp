// SPDX-License-Identifier: MIT
// CudaDevice: the thrust device on thrust's CUDA backend, with GEMMs through cuBLAS. Include it
// from a CUDA translation unit (nvcc; CMake target prefopt::cuda). Storage is device memory
// (host_accessible = false): programs copy through copy_to_host / copy_from_host, which the model
// does only at the edges (loading, logging, saving); a training step stays on the GPU.
//
// Kernels: the portable thrust functors of device/thrust/ (what OmpDevice runs too), except
// LayerNorm forward/backward, the fused log-softmax + gather forward/backward and the attention's
// causal-softmax rows, which are overloaded below with warp/block-per-row CUDA kernels
// (device/cuda/), and the bias gradient, a two-pass column sum (device/cuda/column_sum.hpp). The
// attention's products are strided-batched cuBLAS GEMMs (gemm_batched; device/thrust/attention.hpp).
// The portable twins stay callable on CudaDevice as thrust_device::portable::<kernel>.
//
// Row-major GEMMs on column-major cuBLAS: a row-major matrix A is the column-major Aᵀ in the same
// buffer, so the row-major product C = A·B is the column-major Cᵀ = Bᵀ·Aᵀ — swap the operands,
// keep each operand's transpose flag.
#pragma once

#if !defined(__CUDACC__)
#error "prefopt/device/cuda.hpp needs a CUDA compiler (nvcc); use prefopt/device/omp.hpp for the OpenMP twin"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system/cuda/vector.h>

#include <atomic>
#include <string>

#include "prefopt/device/cuda/attention.hpp"
#include "prefopt/device/cuda/column_sum.hpp"
#include "prefopt/device/cuda/layernorm.hpp"
#include "prefopt/device/cuda/logsoftmax_gather.hpp"
#include "prefopt/device/thrust/kernels.hpp"

namespace prefopt::thrust_device {

namespace cuda_detail {
inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
inline void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuBLAS error ") + std::to_string(static_cast<int>(s)) + " in " + what);
}
/// The process-wide GEMM precision of float products (set_cuda_tf32 below).
inline std::atomic<bool>& tf32_enabled() {
  static std::atomic<bool> on{false};
  return on;
}
/// One cuBLAS handle per host thread, made on first use; its math mode follows tf32_enabled().
inline cublasHandle_t cublas_handle() {
  struct Holder {
    cublasHandle_t h = nullptr;
    bool tf32 = false;
    Holder() { check_cublas(cublasCreate(&h), "cublasCreate"); }
    ~Holder() { if (h) cublasDestroy(h); }
  };
  thread_local Holder holder;
  const bool want = tf32_enabled().load(std::memory_order_relaxed);
  if (want != holder.tf32) {
    check_cublas(cublasSetMathMode(holder.h, want ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                 "cublasSetMathMode");
    holder.tf32 = want;
  }
  return holder.h;
}
inline void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  check_cublas(cublasSgemm(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc), "cublasSgemm");
}
inline void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha, const double* A,
                 int lda, const double* B, int ldb, double beta, double* C, int ldc) {
  check_cublas(cublasDgemm(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc), "cublasDgemm");
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                 const float* A, int lda, long long sa, const float* B, int ldb, long long sb,
                                 float beta, float* C, int ldc, long long sc, int batch) {
  check_cublas(cublasSgemmStridedBatched(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, sa, B, ldb, sb, &beta, C,
                                         ldc, sc, batch),
               "cublasSgemmStridedBatched");
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha,
                                 const double* A, int lda, long long sa, const double* B, int ldb, long long sb,
                                 double beta, double* C, int ldc, long long sc, int batch) {
  check_cublas(cublasDgemmStridedBatched(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, sa, B, ldb, sb, &beta, C,
                                         ldc, sc, batch),
               "cublasDgemmStridedBatched");
}
template <class S>
struct AddBias {  // out (rows, out_dim) += bias
  S* out;
  const S* bias;
  index_t out_dim;
  __host__ __device__ void operator()(index_t k) const { out[k] += bias[k % out_dim]; }
};
}  // namespace cuda_detail

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

/// Thrust's CUDA system with cuBLAS GEMMs, over a memory policy: cuda_memory::Device for
/// CudaDevice. (The tests add a managed-memory policy — tests/support/cuda_managed_device.hpp —
/// whose host_accessible buffers let the CPU device's suites run unchanged on a GPU; it
/// synchronizes after every kernel so that host reads are safe.) Every device of this family
/// gets the fast kernels of device/cuda/ below.
template <class Memory>
struct CudaSystemTraits {
  static constexpr const char* name = Memory::name;
  static constexpr bool host_accessible = Memory::host_accessible;
  // embedding_backward's id classes: 64 × 768 channels ≈ 49K threads for GPT-2 124M (C threads
  // alone would leave most SMs idle); each still reads every token id, so more would cost more.
  static constexpr index_t embedding_classes = 64;
  template <class T>
  using storage = typename Memory::template storage<T>;
  // par_nosync: thrust::cuda::par would wait for every for_each to finish before returning, a
  // host round trip per kernel (hundreds per training step). Kernels, cuBLAS calls and the
  // blocking cudaMemcpy of copy() all queue on the legacy default stream, so their order holds
  // without it; launch errors still surface in check(), execution errors at the next copy.
  static auto policy() { return thrust::cuda::par_nosync; }
  static void synchronize() { cuda_detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
  static void check(const char* what) {
    cuda_detail::check_cuda(cudaGetLastError(), what);
    if constexpr (Memory::synchronize_each_call) cuda_detail::check_cuda(cudaDeviceSynchronize(), what);
  }
  static void copy(void* dst, const void* src, std::size_t bytes, bool to_device) {
    // Host-accessible (managed) memory may meet plain host memory on either side: let the
    // runtime tell which is which.
    const cudaMemcpyKind kind = Memory::host_accessible ? cudaMemcpyDefault
                                : to_device             ? cudaMemcpyHostToDevice
                                                        : cudaMemcpyDeviceToHost;
    cuda_detail::check_cuda(cudaMemcpy(dst, src, bytes, kind), "cudaMemcpy");
  }

  template <class S>
  static void matmul_forward(S* out, const S* inp, const S* weight, const S* bias, index_t rows, index_t in_dim,
                             index_t out_dim, WeightLayout layout) {
    if (rows <= 0) return;
    const int m = static_cast<int>(out_dim), n = static_cast<int>(rows), k = static_cast<int>(in_dim);
    if (layout == WeightLayout::in_out)  // Y = X·W  ->  Yᵀ = Wᵀ·Xᵀ
      cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, S(1), weight, m, inp, k, S(0), out, m);
    else  // Y = X·Wᵀ, W (out, in)  ->  Yᵀ = W·Xᵀ
      cuda_detail::gemm(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, S(1), weight, k, inp, k, S(0), out, m);
    if (bias != nullptr)
      thrust::for_each(policy(), thrust::counting_iterator<index_t>(0), thrust::counting_iterator<index_t>(rows * out_dim),
                       cuda_detail::AddBias<S>{out, bias, out_dim});
    check("matmul_forward");
  }

  /// Row-major batched GEMM: for b < batch, C_b = alpha·op(A_b)·op(B_b) (=) with
  /// X_b = X + b·stride_x, ld = row stride, op(A_b) (M, K), op(B_b) (K, N) (OmpTraits has the same
  /// contract over Eigen). On column-major cuBLAS: Cᵀ = op(B)ᵀ·op(A)ᵀ, operands swapped, each
  /// keeping its transpose flag.
  template <class S>
  static void gemm_batched(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, S alpha, const S* A,
                           index_t lda, index_t stride_a, const S* B, index_t ldb, index_t stride_b, S* C,
                           index_t ldc, index_t stride_c, index_t batch) {
    if (M <= 0 || N <= 0 || batch <= 0) return;
    cuda_detail::gemm_strided_batched(trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                      static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), alpha, B,
                                      static_cast<int>(ldb), stride_b, A, static_cast<int>(lda), stride_a, S(0), C,
                                      static_cast<int>(ldc), stride_c, static_cast<int>(batch));
    check("gemm_batched");
  }

  template <class S>
  static void matmul_backward(S* dinp, S* dweight, S* dbias, const S* dout, const S* inp, const S* weight,
                              index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout) {
    if (rows <= 0) return;
    const int R = static_cast<int>(rows), I = static_cast<int>(in_dim), O = static_cast<int>(out_dim);
    if (layout == WeightLayout::in_out) {
      // dX = dY·Wᵀ  ->  dXᵀ = W·dYᵀ (W's buffer is Wᵀ in column-major, so transpose it back)
      if (dinp != nullptr) cuda_detail::gemm(CUBLAS_OP_T, CUBLAS_OP_N, I, R, O, S(1), weight, O, dout, O, S(0), dinp, I);
      // dW += Xᵀ·dY  ->  dWᵀ += dYᵀ·X
      if (dweight != nullptr) cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_T, O, I, R, S(1), dout, O, inp, I, S(1), dweight, O);
    } else {
      // dX = dY·W  ->  dXᵀ = Wᵀ·dYᵀ
      if (dinp != nullptr) cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_N, I, R, O, S(1), weight, I, dout, O, S(0), dinp, I);
      // dW (out, in) += dYᵀ·X  ->  dWᵀ += Xᵀ·dY
      if (dweight != nullptr) cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_T, I, O, R, S(1), inp, I, dout, O, S(1), dweight, I);
    }
    if (dbias != nullptr) cuda_kernels::column_sums_accumulate(dbias, dout, rows, out_dim);  // two-pass, fixed order
    check("matmul_backward");
  }
};

/// TF32 tensor-core GEMMs for float on Ampere and later (Hugging Face's TrainingArguments.tf32,
/// PyTorch's torch.backends.cuda.matmul.allow_tf32): cuBLAS rounds the float operands to TF32
/// (10-bit mantissa) and accumulates in float — about 1e-3 relative error per product instead of
/// 1e-7, several times the speed. Off by default: strict float GEMMs, as PyTorch's default. The
/// setting is process wide and applies to the GEMMs issued after the call (the other kernels are
/// float throughout either way). Double GEMMs are never affected.
inline void set_cuda_tf32(bool on) { cuda_detail::tf32_enabled().store(on, std::memory_order_relaxed); }
inline bool cuda_tf32() { return cuda_detail::tf32_enabled().load(std::memory_order_relaxed); }

using CudaTraits = CudaSystemTraits<cuda_memory::Device>;
using CudaDevice = ThrustDevice<CudaTraits>;

// ---- the fast kernels (device/cuda/), overloading the portable twins for this family --------
// More specialized than the generic ThrustDevice<Traits> templates of device/thrust/, so
// overload resolution picks them for every CudaSystemTraits device; the portable twins stay
// callable as thrust_device::portable::<kernel>(device, ...) (cuda_device_test compares both).

template <class Memory, class S>
void layernorm_forward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* out, S* mean, S* rstd, const S* inp,
                       const S* weight, const S* bias, index_t rows, index_t channels, S eps) {
  cuda_kernels::layernorm_forward(out, mean, rstd, inp, weight, bias, rows, channels, eps);
  CudaSystemTraits<Memory>::check("layernorm_forward");
}

template <class Memory, class S>
void layernorm_backward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* dinp, S* dweight, S* dbias, const S* dout,
                        const S* inp, const S* weight, const S* mean, const S* rstd, index_t rows, index_t channels) {
  cuda_kernels::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, channels);
  CudaSystemTraits<Memory>::check("layernorm_backward");
}

template <class Memory, class S>
void logsoftmax_gather_forward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* logp, S* lse, const S* logits,
                               const token_t* targets, index_t rows, index_t vocab) {
  cuda_kernels::logsoftmax_gather_forward(logp, lse, logits, targets, rows, vocab);
  CudaSystemTraits<Memory>::check("logsoftmax_gather_forward");
}

template <class Memory, class S>
void logsoftmax_gather_backward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* logits, const S* lse,
                                const token_t* targets, const S* weights, index_t rows, index_t vocab) {
  cuda_kernels::logsoftmax_gather_backward(logits, lse, targets, weights, rows, vocab);
  CudaSystemTraits<Memory>::check("logsoftmax_gather_backward");
}

template <class Memory, class S>
void causal_softmax_forward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* att, const index_t* seq_offsets,
                            const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  cuda_kernels::causal_softmax_forward(att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
  CudaSystemTraits<Memory>::check("causal_softmax_forward");
}

template <class Memory, class S>
void causal_softmax_backward(const ThrustDevice<CudaSystemTraits<Memory>>&, S* datt, const S* att,
                             const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq, index_t n_head,
                             index_t n_tokens) {
  cuda_kernels::causal_softmax_backward(datt, att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
  CudaSystemTraits<Memory>::check("causal_softmax_backward");
}

}  // namespace prefopt::thrust_device

namespace prefopt {
using thrust_device::CudaDevice;
using thrust_device::cuda_tf32;
using thrust_device::set_cuda_tf32;
}
