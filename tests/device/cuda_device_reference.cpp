// SPDX-License-Identifier: MIT
// The CPU references of cuda_device_test (see cuda_device_reference.hpp), built by the host compiler.
#include "cuda_device_reference.hpp"

#include "prefopt/device/cpu.hpp"
#include "prefopt/model/gpt2.hpp"

namespace prefopt::cuda_test::ref {
namespace {
const CpuDevice dev{};
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, index_t rows,
                    index_t in_dim, index_t out_dim, WeightLayout layout) {
  cpu::matmul_forward(dev, out, inp, weight, bias, rows, in_dim, out_dim, layout);
}
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, index_t rows, index_t in_dim, index_t out_dim, WeightLayout layout) {
  cpu::matmul_backward(dev, dinp, dweight, dbias, dout, inp, weight, rows, in_dim, out_dim, layout);
}
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       index_t rows, index_t channels, float eps) {
  cpu::layernorm_forward(dev, out, mean, rstd, inp, weight, bias, rows, channels, eps);
}
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, index_t rows, index_t channels) {
  cpu::layernorm_backward(dev, dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, channels);
}
void gelu_forward(float* out, const float* inp, index_t n) { cpu::gelu_forward(dev, out, inp, n); }
void gelu_backward(float* dinp, const float* dout, const float* inp, index_t n) {
  cpu::gelu_backward(dev, dinp, dout, inp, n);
}
void embedding_forward(float* out, const token_t* tokens, const token_t* positions, const float* wte,
                       const float* wpe, index_t n, index_t C) {
  cpu::embedding_forward(dev, out, tokens, positions, wte, wpe, n, C);
}
void embedding_backward(float* dwte, float* dwpe, const float* dout, const token_t* tokens, const token_t* positions,
                        index_t n, index_t C) {
  cpu::embedding_backward(dev, dwte, dwpe, dout, tokens, positions, n, C);
}
void residual_forward(float* out, const float* a, const float* b, index_t n) {
  cpu::residual_forward(dev, out, a, b, n);
}
void residual_backward(float* da, float* db, const float* dout, index_t n) {
  cpu::residual_backward(dev, da, db, dout, n);
}
void attention_forward(float* out, float* att, const float* qkv, const index_t* seq_offsets,
                       const index_t* att_offsets, index_t n_seq, index_t n_head, index_t channels) {
  cpu::attention_forward(dev, out, att, qkv, PackedOffsets::host_visible(seq_offsets, att_offsets, n_seq), n_head,
                         channels);
}
void attention_backward(float* dqkv, float* datt, const float* dout, const float* qkv, const float* att,
                        const index_t* seq_offsets, const index_t* att_offsets, index_t n_seq, index_t n_head,
                        index_t channels) {
  cpu::attention_backward(dev, dqkv, datt, dout, qkv, att, PackedOffsets::host_visible(seq_offsets, att_offsets, n_seq),
                          n_head, channels);
}
void logsoftmax_gather_forward(float* logp, float* lse, const float* logits, const token_t* targets, index_t rows,
                               index_t vocab) {
  cpu::logsoftmax_gather_forward(dev, logp, lse, logits, targets, rows, vocab);
}
void logsoftmax_gather_backward(float* logits, const float* lse, const token_t* targets, const float* weights,
                                index_t rows, index_t vocab) {
  cpu::logsoftmax_gather_backward(dev, logits, lse, targets, weights, rows, vocab);
}
void attention_decode_forward(float* out, float* key_cache, float* value_cache, float* scores, const float* qkv,
                              const index_t* new_offsets, const index_t* slots, const index_t* past_lengths,
                              const index_t* score_offsets, index_t n_seq, index_t n_head, index_t channels,
                              index_t max_len) {
  cpu::attention_decode_forward(dev, out, key_cache, value_cache, scores, qkv, new_offsets, slots, past_lengths,
                                score_offsets, n_seq, new_offsets[n_seq], n_head, channels, max_len);
}
double sum_of_squares(const float* x, index_t n) { return cpu::sum_of_squares(dev, x, n); }
void adamw_update(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, index_t n,
                  const AdamWStepParams& p) {
  cpu::adamw_update(dev, params, grads, exp_avg, exp_avg_sq, n, p);
}

void gpt2_forward_backward(const Gpt2Config& config, const PackedBatch& batch, std::uint64_t seed,
                           std::vector<float>& params, const std::vector<float>& token_weights,
                           std::vector<float>& token_logps, std::vector<float>& gradients) {
  Gpt2<CpuDevice, float> model(config);
  if (params.empty()) {
    model.init_random(seed);
    params.resize(static_cast<std::size_t>(model.num_parameters()));
    model.get_parameters(params.data());
  } else {
    model.set_parameters(params.data());
  }
  token_logps.assign(static_cast<std::size_t>(batch.n_tokens()), 0.0f);
  const auto record = model.forward(batch, token_logps.data());
  model.zero_gradients();
  model.backward(record, token_weights.data());
  gradients.assign(model.gradients(), model.gradients() + model.num_parameters());
}

}  // namespace prefopt::cuda_test::ref
