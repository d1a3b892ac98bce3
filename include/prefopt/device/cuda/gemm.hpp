// SPDX-License-Identifier: MIT
// CudaDevice's GEMMs: row-major products on column-major cuBLAS (built by nvcc against
// <cublas_v2.h>, or — tests only — by a host compiler against the SIMT emulator's column-major
// reference cuBLAS, tests/support/simt/, which also checks every leading dimension as cuBLAS does).
//
// A row-major matrix A is the column-major Aᵀ in the same buffer, so the row-major product
// C = A·B is the column-major Cᵀ = Bᵀ·Aᵀ: swap the operands, keep each operand's transpose flag.
#pragma once

#if defined(__CUDACC__)
#include <cublas_v2.h>
#endif

#include <atomic>
#include <string>

#include "prefopt/core/types.hpp"
#include "prefopt/device/cuda/column_sum.hpp"
#include "prefopt/device/cuda/runtime.hpp"

namespace prefopt::thrust_device {

namespace cuda_detail {
inline void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS error ") + std::to_string(static_cast<int>(s)) + " in " + what);
}
/// The process-wide GEMM precision of float products (set_cuda_gemm_precision below).
inline std::atomic<int>& gemm_precision() {
  static std::atomic<int> p{0};
  return p;
}
}  // namespace cuda_detail

/// What the CUDA device's float GEMMs compute with (double GEMMs are always strict double):
///   fp32  strict float (cublasSgemm, cuBLAS's default math) — PyTorch's default,
///         torch.backends.cuda.matmul.allow_tf32 = False; the default here;
///   tf32  TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH): operands rounded to a 10-bit mantissa,
///         float accumulation — Hugging Face's TrainingArguments.tf32, allow_tf32 = True;
///   bf16  bfloat16 tensor cores (cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_16BF): cuBLAS may
///         down-convert the float operands to bfloat16 (7-bit mantissa) or TF32, accumulates and
///         writes float — the GEMM half of Hugging Face's bf16=True (torch.autocast(bfloat16)),
///         whose LayerNorm, softmax, loss and optimizer stay in float as here; the weights stay
///         float (autocast's master weights), and so does every other kernel.
/// The setting is process wide and applies to the GEMMs issued after the call.
enum class CudaGemmPrecision { fp32 = 0, tf32 = 1, bf16 = 2 };

inline void set_cuda_gemm_precision(CudaGemmPrecision p) {
  cuda_detail::gemm_precision().store(static_cast<int>(p), std::memory_order_relaxed);
}
inline CudaGemmPrecision cuda_gemm_precision() {
  return static_cast<CudaGemmPrecision>(cuda_detail::gemm_precision().load(std::memory_order_relaxed));
}
inline const char* to_string(CudaGemmPrecision p) {
  return p == CudaGemmPrecision::tf32 ? "tf32" : p == CudaGemmPrecision::bf16 ? "bf16" : "fp32";
}

/// TF32 on or off (set_cuda_gemm_precision(tf32 or fp32)); TF32 is about 1e-3 relative error per
/// product instead of 1e-7, several times the speed.
inline void set_cuda_tf32(bool on) { set_cuda_gemm_precision(on ? CudaGemmPrecision::tf32 : CudaGemmPrecision::fp32); }
inline bool cuda_tf32() { return cuda_gemm_precision() == CudaGemmPrecision::tf32; }

namespace cuda_detail {
/// One cuBLAS handle per host thread, made on first use; its math mode follows the precision
/// (TF32 tensor-op math for tf32; the bf16 compute type is passed per call).
inline cublasHandle_t cublas_handle() {
  struct Holder {
    cublasHandle_t h = nullptr;
    bool tf32 = false;
    Holder() { check_cublas(cublasCreate(&h), "cublasCreate"); }
    ~Holder() {
      if (h) cublasDestroy(h);
    }
  };
  thread_local Holder holder;
  const bool want = cuda_tf32();
  if (want != holder.tf32) {
    check_cublas(cublasSetMathMode(holder.h, want ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                 "cublasSetMathMode");
    holder.tf32 = want;
  }
  return holder.h;
}
inline void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (cuda_gemm_precision() == CudaGemmPrecision::bf16)
    check_cublas(cublasGemmEx(cublas_handle(), ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, &beta,
                              C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx (CUBLAS_COMPUTE_32F_FAST_16BF)");
  else
    check_cublas(cublasSgemm(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc), "cublasSgemm");
}
inline void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, double alpha, const double* A,
                 int lda, const double* B, int ldb, double beta, double* C, int ldc) {
  check_cublas(cublasDgemm(cublas_handle(), ta, tb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc), "cublasDgemm");
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                                 const float* A, int lda, long long sa, const float* B, int ldb, long long sb,
                                 float beta, float* C, int ldc, long long sc, int batch) {
  if (cuda_gemm_precision() == CudaGemmPrecision::bf16)
    check_cublas(cublasGemmStridedBatchedEx(cublas_handle(), ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, sa, B,
                                            CUDA_R_32F, ldb, sb, &beta, C, CUDA_R_32F, ldc, sc, batch,
                                            CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmStridedBatchedEx (CUBLAS_COMPUTE_32F_FAST_16BF)");
  else
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
}  // namespace cuda_detail

namespace cuda_kernels {

constexpr int bias_threads = 256;

// out (rows, out_dim) += bias, one thread per element.
template <class S>
__global__ void add_bias_kernel(S* out, const S* bias, index_t n, index_t out_dim) {
  const index_t k = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < n) out[k] += bias[k % out_dim];
}

/// out (rows, out_dim) = inp (rows, in_dim) · W (+ bias); W is (in, out) or (out, in) by layout.
template <class S>
void matmul_forward(S* out, const S* inp, const S* weight, const S* bias, index_t rows, index_t in_dim, index_t out_dim,
                    WeightLayout layout) {
  if (rows <= 0) return;
  const int m = static_cast<int>(out_dim), n = static_cast<int>(rows), k = static_cast<int>(in_dim);
  if (layout == WeightLayout::in_out)  // Y = X·W  ->  Yᵀ = Wᵀ·Xᵀ
    cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, S(1), weight, m, inp, k, S(0), out, m);
  else  // Y = X·Wᵀ, W (out, in)  ->  Yᵀ = W·Xᵀ
    cuda_detail::gemm(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, S(1), weight, k, inp, k, S(0), out, m);
  if (bias != nullptr) {
    const index_t total = rows * out_dim;
    launch(add_bias_kernel<S>, grid_size(total, bias_threads), bias_threads, out, bias, total, out_dim);
  }
}

/// dinp = dout·Wᵀ (=, skipped when null), dweight += the weight gradient, dbias += column sums of
/// dout (two-pass, fixed order: column_sum.hpp).
template <class S>
void matmul_backward(S* dinp, S* dweight, S* dbias, const S* dout, const S* inp, const S* weight, index_t rows,
                     index_t in_dim, index_t out_dim, WeightLayout layout) {
  if (rows <= 0) return;
  const int R = static_cast<int>(rows), I = static_cast<int>(in_dim), O = static_cast<int>(out_dim);
  if (layout == WeightLayout::in_out) {
    // dX = dY·Wᵀ  ->  dXᵀ = W·dYᵀ (W's buffer is Wᵀ in column-major, so transpose it back)
    if (dinp != nullptr) cuda_detail::gemm(CUBLAS_OP_T, CUBLAS_OP_N, I, R, O, S(1), weight, O, dout, O, S(0), dinp, I);
    // dW += Xᵀ·dY  ->  dWᵀ += dYᵀ·X
    if (dweight != nullptr)
      cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_T, O, I, R, S(1), dout, O, inp, I, S(1), dweight, O);
  } else {
    // dX = dY·W  ->  dXᵀ = Wᵀ·dYᵀ
    if (dinp != nullptr) cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_N, I, R, O, S(1), weight, I, dout, O, S(0), dinp, I);
    // dW (out, in) += dYᵀ·X  ->  dWᵀ += Xᵀ·dY
    if (dweight != nullptr)
      cuda_detail::gemm(CUBLAS_OP_N, CUBLAS_OP_T, I, O, R, S(1), inp, I, dout, O, S(1), dweight, I);
  }
  if (dbias != nullptr) column_sums_accumulate(dbias, dout, rows, out_dim);
}

/// Row-major batched GEMM: for b < batch, C_b = alpha·op(A_b)·op(B_b) (=) with
/// X_b = X + b·stride_x, ld = row stride, op(A_b) (M, K), op(B_b) (K, N) (OmpTraits has the same
/// contract over Eigen). On column-major cuBLAS: Cᵀ = op(B)ᵀ·op(A)ᵀ, operands swapped, each
/// keeping its transpose flag.
template <class S>
void gemm_batched(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, S alpha, const S* A, index_t lda,
                  index_t stride_a, const S* B, index_t ldb, index_t stride_b, S* C, index_t ldc, index_t stride_c,
                  index_t batch) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  cuda_detail::gemm_strided_batched(trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), alpha, B,
                                    static_cast<int>(ldb), stride_b, A, static_cast<int>(lda), stride_a, S(0), C,
                                    static_cast<int>(ldc), stride_c, static_cast<int>(batch));
}

}  // namespace cuda_kernels
}  // namespace prefopt::thrust_device
