// SPDX-License-Identifier: MIT
// A reference cuBLAS for the SIMT emulator (tests only): the handful of cuBLAS v2 calls that
// device/cuda/gemm.hpp makes, with cuBLAS's documented column-major semantics written out as
// loops — C = alpha·op(A)·op(B) + beta·C, element (i, j) of an m×n column-major matrix at
// i + j·ld, op(X) = X or Xᵀ — and the argument checks cuBLAS makes (sizes >= 0, each leading
// dimension at least the rows of the matrix as stored, CUBLAS_STATUS_INVALID_VALUE otherwise).
// So a wrong operand order, transpose flag or leading dimension in the row-major mapping fails
// here as it would on a GPU. Sums run in long double in a fixed order; with beta = 0, C is not
// read (cuBLAS: "C need not be set"), so uninitialised or NaN outputs stay harmless.
//
// CUBLAS_TF32_TENSOR_OP_MATH is emulated for float: each operand is rounded to TF32 (10 of float's
// 23 mantissa bits, to nearest) before it is multiplied, as tensor cores do; double ignores it.
// cublasGemmEx / cublasGemmStridedBatchedEx take float operands (CUDA_R_32F; any other type is
// CUBLAS_STATUS_NOT_SUPPORTED here) with compute type CUBLAS_COMPUTE_32F (the handle's math mode
// applies, as for cublasSgemm), CUBLAS_COMPUTE_32F_FAST_TF32 (TF32 operands) or
// CUBLAS_COMPUTE_32F_FAST_16BF, emulated at its coarsest — operands rounded to bfloat16 (7 mantissa
// bits, to nearest even, as __float2bfloat16_rn) — though cuBLAS may choose TF32 for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "support/simt/simt.hpp"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
enum cudaDataType { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16BF = 14 };
enum cublasComputeType_t {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
};
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };

struct cublasContext {
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
using cublasHandle_t = cublasContext*;

namespace prefopt_simt {

/// GEMMs run through the reference cuBLAS so far in this process.
inline std::size_t& gemm_count() {
  static std::size_t n = 0;
  return n;
}

namespace detail {

/// x rounded to TF32 (1 + 8 + 10 bits), to nearest with ties away from zero; inf/NaN kept.
inline float round_to_tf32(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}
/// x rounded to bfloat16 (1 + 8 + 7 bits), to nearest even; inf/NaN kept.
inline float round_to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

/// How a float operand is rounded before it is multiplied.
enum class OperandRounding { none, tf32, bf16 };

template <class T>
T operand(T x, OperandRounding r) {
  if constexpr (std::is_same<T, float>::value)
    return r == OperandRounding::tf32 ? round_to_tf32(x) : r == OperandRounding::bf16 ? round_to_bf16(x) : x;
  else
    return x;
}

/// The rounding of cublasSgemm & co.: the handle's math mode.
inline OperandRounding math_mode_rounding(cublasHandle_t h) {
  return h != nullptr && h->math == CUBLAS_TF32_TENSOR_OP_MATH ? OperandRounding::tf32 : OperandRounding::none;
}

template <class T>
cublasStatus_t reference_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                              const T* alpha, const T* A, int lda, long long stride_a, const T* B, int ldb,
                              long long stride_b, const T* beta, T* C, int ldc, long long stride_c, int batch,
                              OperandRounding rounding) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const auto at_least = [](int rows) { return rows > 1 ? rows : 1; };
  if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < at_least(ta == CUBLAS_OP_N ? m : k)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldb < at_least(tb == CUBLAS_OP_N ? k : n)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldc < at_least(m)) return CUBLAS_STATUS_INVALID_VALUE;
  if (alpha == nullptr || beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  ++gemm_count();
  for (int b = 0; b < batch; ++b) {
    const T* a = A + b * stride_a;
    const T* bm = B + b * stride_b;
    T* c = C + b * stride_c;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        long double s = 0;
        for (int l = 0; l < k; ++l) {
          const T x =
              ta == CUBLAS_OP_N ? a[i + static_cast<long long>(l) * lda] : a[l + static_cast<long long>(i) * lda];
          const T y =
              tb == CUBLAS_OP_N ? bm[l + static_cast<long long>(j) * ldb] : bm[j + static_cast<long long>(l) * ldb];
          s += static_cast<long double>(operand(x, rounding)) * operand(y, rounding);
        }
        T& out = c[i + static_cast<long long>(j) * ldc];
        const long double scaled = static_cast<long double>(*alpha) * s;
        out = *beta == T(0) ? static_cast<T>(scaled) : static_cast<T>(scaled + static_cast<long double>(*beta) * out);
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}

/// The rounding of cublasGemmEx's compute type for float data; false when not emulated.
inline bool compute_type_rounding(cublasHandle_t h, cublasComputeType_t c, OperandRounding& r) {
  switch (c) {
    case CUBLAS_COMPUTE_32F: r = math_mode_rounding(h); return true;
    case CUBLAS_COMPUTE_32F_FAST_TF32: r = OperandRounding::tf32; return true;
    case CUBLAS_COMPUTE_32F_FAST_16BF: r = OperandRounding::bf16; return true;
  }
  return false;
}

}  // namespace detail
}  // namespace prefopt_simt

inline cublasStatus_t cublasCreate(cublasHandle_t* h) {
  if (h == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *h = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t h) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float* alpha, const float* A, int lda, const float* B, int ldb,
                                  const float* beta, float* C, int ldc) {
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
                                              prefopt_simt::detail::math_mode_rounding(h));
}
inline cublasStatus_t cublasDgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const double* alpha, const double* A, int lda, const double* B, int ldb,
                                  const double* beta, double* C, int ldc) {
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
                                              prefopt_simt::detail::math_mode_rounding(h));
}
inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                                int n, int k, const float* alpha, const float* A, int lda, long long sa,
                                                const float* B, int ldb, long long sb, const float* beta, float* C,
                                                int ldc, long long sc, int batch) {
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                                              batch, prefopt_simt::detail::math_mode_rounding(h));
}
inline cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                                int n, int k, const double* alpha, const double* A, int lda,
                                                long long sa, const double* B, int ldb, long long sb,
                                                const double* beta, double* C, int ldc, long long sc, int batch) {
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                                              batch, prefopt_simt::detail::math_mode_rounding(h));
}
inline cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                   const void* alpha, const void* A, cudaDataType a_type, int lda, const void* B,
                                   cudaDataType b_type, int ldb, const void* beta, void* C, cudaDataType c_type, int ldc,
                                   cublasComputeType_t compute, cublasGemmAlgo_t) {
  prefopt_simt::detail::OperandRounding r{};
  if (a_type != CUDA_R_32F || b_type != CUDA_R_32F || c_type != CUDA_R_32F ||
      !prefopt_simt::detail::compute_type_rounding(h, compute, r))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, static_cast<const float*>(alpha),
                                              static_cast<const float*>(A), lda, 0, static_cast<const float*>(B), ldb,
                                              0, static_cast<const float*>(beta), static_cast<float*>(C), ldc, 0, 1, r);
}
inline cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                                 int n, int k, const void* alpha, const void* A, cudaDataType a_type,
                                                 int lda, long long sa, const void* B, cudaDataType b_type, int ldb,
                                                 long long sb, const void* beta, void* C, cudaDataType c_type, int ldc,
                                                 long long sc, int batch, cublasComputeType_t compute,
                                                 cublasGemmAlgo_t) {
  prefopt_simt::detail::OperandRounding r{};
  if (a_type != CUDA_R_32F || b_type != CUDA_R_32F || c_type != CUDA_R_32F ||
      !prefopt_simt::detail::compute_type_rounding(h, compute, r))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  return prefopt_simt::detail::reference_gemm(h, ta, tb, m, n, k, static_cast<const float*>(alpha),
                                              static_cast<const float*>(A), lda, sa, static_cast<const float*>(B), ldb,
                                              sb, static_cast<const float*>(beta), static_cast<float*>(C), ldc, sc,
                                              batch, r);
}
