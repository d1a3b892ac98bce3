// SPDX-License-Identifier: MIT
// CudaSystemTraits<Memory, Runtime>: everything CudaDevice is besides the CUDA runtime itself —
// thrust's portable kernels (device/thrust/), GEMMs through cuBLAS (device/cuda/gemm.hpp), and
// warp/block-per-row CUDA kernels (device/cuda/) that overload the portable twins for LayerNorm,
// the fused log-softmax + gather, the attention's causal-softmax rows, the key/value-cache
// attention of generation and the bias gradient.
//
// `Memory` gives `name`, `host_accessible`, `synchronize_each_call` and `template <class T> using
// storage`; `Runtime` gives `policy()` (thrust's execution policy), `synchronize()`,
// `last_error(what)` (throws on a pending launch error) and `copy(dst, src, bytes, kind)`.
// device/cuda.hpp pairs plain device memory with the CUDA runtime (CudaDevice); the tests pair
// managed memory with it (tests/support/cuda_managed_device.hpp) and, with no GPU, host memory
// with the SIMT emulator (tests/support/simt/simt_device.hpp), so that this file's code — the
// fast kernels and the cuBLAS calls included — runs in CI.
#pragma once

#include <cstddef>

#include "prefopt/device/cuda/attention.hpp"
#include "prefopt/device/cuda/attention_decode.hpp"
#include "prefopt/device/cuda/column_sum.hpp"
#include "prefopt/device/cuda/gemm.hpp"
#include "prefopt/device/cuda/layernorm.hpp"
#include "prefopt/device/cuda/logsoftmax_gather.hpp"
#include "prefopt/device/cuda/runtime.hpp"
#include "prefopt/device/thrust/kernels.hpp"

namespace prefopt::thrust_device {

/// Which way a copy goes, for Runtime::copy.
enum class CopyKind { host_to_device, device_to_host, either };

template <class Memory, class Runtime>
struct CudaSystemTraits {
  static constexpr const char* name = Memory::name;
  static constexpr bool host_accessible = Memory::host_accessible;
  // embedding_backward's id classes: 64 × 768 channels ≈ 49K threads for GPT-2 124M (C threads
  // alone would leave most SMs idle); each still reads every token id, so more would cost more.
  static constexpr index_t embedding_classes = 64;
  template <class T>
  using storage = typename Memory::template storage<T>;
  static auto policy() { return Runtime::policy(); }
  static void synchronize() { Runtime::synchronize(); }
  /// Throws on a pending launch error; with Memory::synchronize_each_call also waits for the
  /// work queued so far (and throws on its execution errors), so that host reads are safe.
  static void check(const char* what) {
    Runtime::last_error(what);
    if constexpr (Memory::synchronize_each_call) Runtime::synchronize();
  }
  static void copy(void* dst, const void* src, std::size_t bytes, bool to_device) {
    // Host-accessible (managed) memory may meet plain host memory on either side: let the
    // runtime tell which is which.
    Runtime::copy(dst, src, bytes,
                  Memory::host_accessible ? CopyKind::either
                  : to_device             ? CopyKind::host_to_device
                                          : CopyKind::device_to_host);
  }

  template <class S>
  static void matmul_forward(S* out, const S* inp, const S* weight, const S* bias, index_t rows, index_t in_dim,
                             index_t out_dim, WeightLayout layout) {
    cuda_kernels::matmul_forward(out, inp, weight, bias, rows, in_dim, out_dim, layout);
    check("matmul_forward");
  }
  template <class S>
  static void matmul_backward(S* dinp, S* dweight, S* dbias, const S* dout, const S* inp, const S* weight, index_t rows,
                              index_t in_dim, index_t out_dim, WeightLayout layout) {
    cuda_kernels::matmul_backward(dinp, dweight, dbias, dout, inp, weight, rows, in_dim, out_dim, layout);
    check("matmul_backward");
  }
  /// Row-major batched GEMM (cuda_kernels::gemm_batched, device/cuda/gemm.hpp).
  template <class S>
  static void gemm_batched(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, S alpha, const S* A,
                           index_t lda, index_t stride_a, const S* B, index_t ldb, index_t stride_b, S* C, index_t ldc,
                           index_t stride_c, index_t batch) {
    cuda_kernels::gemm_batched(trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c,
                               batch);
    check("gemm_batched");
  }
};

// ---- the fast kernels (device/cuda/), overloading the portable twins for this family --------
// More specialized than the generic ThrustDevice<Traits> templates of device/thrust/, so
// overload resolution picks them for every CudaSystemTraits device; the portable twins stay
// callable as thrust_device::portable::<kernel>(device, ...) (cuda_device_test compares both).

template <class Memory, class Runtime, class S>
void layernorm_forward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* out, S* mean, S* rstd, const S* inp,
                       const S* weight, const S* bias, index_t rows, index_t channels, S eps) {
  cuda_kernels::layernorm_forward(out, mean, rstd, inp, weight, bias, rows, channels, eps);
  CudaSystemTraits<Memory, Runtime>::check("layernorm_forward");
}

template <class Memory, class Runtime, class S>
void layernorm_backward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* dinp, S* dweight, S* dbias,
                        const S* dout, const S* inp, const S* weight, const S* mean, const S* rstd, index_t rows,
                        index_t channels) {
  cuda_kernels::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, channels);
  CudaSystemTraits<Memory, Runtime>::check("layernorm_backward");
}

template <class Memory, class Runtime, class S>
void logsoftmax_gather_forward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* logp, S* lse, const S* logits,
                               const token_t* targets, index_t rows, index_t vocab) {
  cuda_kernels::logsoftmax_gather_forward(logp, lse, logits, targets, rows, vocab);
  CudaSystemTraits<Memory, Runtime>::check("logsoftmax_gather_forward");
}

template <class Memory, class Runtime, class S>
void logsoftmax_gather_backward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* logits, const S* lse,
                                const token_t* targets, const S* weights, index_t rows, index_t vocab) {
  cuda_kernels::logsoftmax_gather_backward(logits, lse, targets, weights, rows, vocab);
  CudaSystemTraits<Memory, Runtime>::check("logsoftmax_gather_backward");
}

template <class Memory, class Runtime, class S>
void causal_softmax_forward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* att, const index_t* seq_offsets,
                            const index_t* att_offsets, index_t n_seq, index_t n_head, index_t n_tokens) {
  cuda_kernels::causal_softmax_forward(att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
  CudaSystemTraits<Memory, Runtime>::check("causal_softmax_forward");
}

template <class Memory, class Runtime, class S>
void causal_softmax_backward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* datt, const S* att,
                             const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq, index_t n_head,
                             index_t n_tokens) {
  cuda_kernels::causal_softmax_backward(datt, att, seq_offsets, att_offsets, n_seq, n_head, n_tokens);
  CudaSystemTraits<Memory, Runtime>::check("causal_softmax_backward");
}

template <class Memory, class Runtime, class S>
void attention_decode_forward(const ThrustDevice<CudaSystemTraits<Memory, Runtime>>&, S* out, S* key_cache,
                              S* value_cache, S* scores, const S* qkv, const index_t* new_offsets, const index_t* slots,
                              const index_t* past_lengths, const index_t* score_offsets, index_t n_seq, index_t n_new,
                              index_t n_head, index_t channels, index_t max_len) {
  cuda_kernels::attention_decode_forward(out, key_cache, value_cache, scores, qkv, new_offsets, slots, past_lengths,
                                         score_offsets, n_seq, n_new, n_head, channels, max_len);
  CudaSystemTraits<Memory, Runtime>::check("attention_decode_forward");
}

}  // namespace prefopt::thrust_device
