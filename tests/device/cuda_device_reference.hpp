// SPDX-License-Identifier: MIT
// The CPU device's kernels and model on host memory, behind plain functions, for the CUDA device
// test: cuda_device_reference.cpp is compiled by the host compiler (the CPU device's Eigen stays
// out of nvcc), cuda_device_test.cu compares CudaDevice against these.
#pragma once

#include <cstdint>
#include <vector>

#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/packed_batch.hpp"
#include "prefopt/optim/adamw.hpp"

namespace prefopt::cuda_test::ref {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, index_t rows,
                    index_t in_dim, index_t out_dim, WeightLayout layout);
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout);
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       index_t rows, index_t channels, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, index_t rows, index_t channels);
void gelu_forward(float* out, const float* inp, index_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, index_t n);
void embedding_forward(float* out, const token_t* tokens, const token_t* positions, const float* wte,
                       const float* wpe, index_t n, index_t C);
void embedding_backward(float* dwte, float* dwpe, const float* dout, const token_t* tokens, const token_t* positions,
                        index_t n, index_t C);
void residual_forward(float* out, const float* a, const float* b, index_t n);
void residual_backward(float* da, float* db, const float* dout, index_t n);
void attention_forward(float* out, float* att, const float* qkv, const index_t* seq_offsets,
                       const index_t* att_offsets, index_t n_seq, index_t n_head, index_t channels);
void attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv, const float* att,
                        const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq, index_t n_head,
                        index_t channels);
void logsoftmax_gather_forward(float* logp, float* lse, const float* logits, const token_t* targets, index_t rows,
                               index_t vocab);
void logsoftmax_gather_backward(float* logits, const float* lse, const token_t* targets, const float* weights,
                                index_t rows, index_t vocab);
void attention_decode_forward(float* out, float* key_cache, float* value_cache, float* scores, const float* qkv,
                              const index_t* new_offsets, const index_t* slots, const index_t* past_lengths,
                              const index_t* score_offsets, index_t n_seq, index_t n_head, index_t channels,
                              index_t max_len);
double sum_of_squares(const float* x, index_t n);
void adamw_update(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, index_t n,
                  const AdamWStepParams& p);

/// Gpt2<CpuDevice, float> with `params` (init_random(seed) when empty; filled in then): one
/// training forward of `batch`, zero_gradients, backward with `token_weights`.
void gpt2_forward_backward(const Gpt2Config& config, const PackedBatch& batch, std::uint64_t seed,
                           std::vector<float>& params, const std::vector<float>& token_weights,
                           std::vector<float>& token_logps, std::vector<float>& gradients);

}  // namespace prefopt::cuda_test::ref
