// SPDX-License-Identifier: MIT
// Gpt2<Device, Scalar>: Hugging Face's GPT2LMHeadModel, computed exactly — pre-LN blocks, learned
// positions, tied lm_head, LayerNorm eps from the config, attention scale 1/sqrt(head_dim),
// gelu_new, no dropout — over packed variable-length batches.
//
// The model is one template over the device: it only calls the device's kernels (found by ADL) on
// buffers the device owns, so every device runs the same orchestration.
//
//   forward:  token_logps[i] = log p(targets[i] | tokens of i's sequence up to i), 0 where no target
//   backward: gradients += d(sum_i token_weights[i] * token_logps[i]) / d(parameters)
//
// Every preference loss reduces to per-token weights on completion log-probs (docs/architecture.md),
// so this pair of calls is the model's whole training interface.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/device/packed_offsets.hpp"
#include "prefopt/model/gpt2_activations.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/kv_cache.hpp"
#include "prefopt/model/packed_batch.hpp"
#include "prefopt/model/parameter_table.hpp"

namespace prefopt {

/// Whether a model holds a gradient block. A frozen reference model (forward only) needs none,
/// which saves a parameter-sized buffer.
enum class GradientMemory { allocate, none };

/// Ties a backward call to the forward whose activations it consumes.
struct ForwardRecord {
  std::uint64_t generation = 0;
  index_t n_tokens = 0;
  ForwardMode mode = ForwardMode::training;
};

template <class Device, class Scalar = float>
class Gpt2 {
 public:
  using device_type = Device;
  using scalar_type = Scalar;
  template <class T>
  using vector = typename Device::template vector<T>;

  explicit Gpt2(const Gpt2Config& config, Device device = {},
                GradientMemory gradient_memory = GradientMemory::allocate)
      : config_(config), table_(config), device_(device) {
    params_.resize(static_cast<std::size_t>(table_.total_size()));
    weights_ = Gpt2View<Scalar>::make(table_, params_.data());
    if (gradient_memory == GradientMemory::allocate) {
      grads_.resize(static_cast<std::size_t>(table_.total_size()));
      weight_grads_ = Gpt2View<Scalar>::make(table_, grads_.data());
    }
  }
  Gpt2(const Gpt2&) = delete;  // views point into owned buffers
  Gpt2& operator=(const Gpt2&) = delete;

  const Gpt2Config& config() const noexcept { return config_; }
  const ParameterTable& parameter_table() const noexcept { return table_; }
  const Device& device() const noexcept { return device_; }
  index_t num_parameters() const noexcept { return table_.total_size(); }

  /// The parameter and gradient blocks (device memory, table_.total_size() elements each).
  Scalar* parameters() noexcept { return params_.data(); }
  const Scalar* parameters() const noexcept { return params_.data(); }
  Scalar* gradients() noexcept { return grads_.data(); }
  const Scalar* gradients() const noexcept { return grads_.data(); }
  const Gpt2View<Scalar>& weights() const noexcept { return weights_; }
  const Gpt2View<Scalar>& weight_gradients() const noexcept { return weight_grads_; }

  /// False for a forward-only model (GradientMemory::none): training-mode forward and backward throw.
  bool has_gradients() const noexcept { return !grads_.empty(); }

  void zero_gradients() {
    if (has_gradients()) fill(device_, grads_.data(), num_parameters(), Scalar(0));
  }

  /// Copies a host block laid out by parameter_table() into the model, or back out.
  void set_parameters(const Scalar* host) { device_.copy_from_host(host, num_parameters(), params_.data()); }
  void get_parameters(Scalar* host) const { device_.copy_to_host(params_.data(), num_parameters(), host); }

  /// GPT-2's initialisation (HF GPT2PreTrainedModel._init_weights): weights and embeddings
  /// N(0, initializer_range), residual projections (c_proj) N(0, initializer_range / sqrt(2 n_layer)),
  /// biases 0, LayerNorm weight 1. The same seed gives the same weights on every platform.
  void init_random(std::uint64_t seed) {
    std::vector<Scalar> host(static_cast<std::size_t>(num_parameters()));
    Random rng(seed);
    const double std_w = config_.initializer_range;
    const double std_proj = std_w / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
    auto ends_with = [](const std::string& s, const char* suffix) {
      const std::string x(suffix);
      return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    for (const auto& e : table_.entries()) {
      Scalar* p = host.data() + e.offset;
      if (ends_with(e.name, "ln_1.weight") || ends_with(e.name, "ln_2.weight") || e.name == "ln_f.weight") {
        std::fill(p, p + e.size, Scalar(1));
      } else if (ends_with(e.name, ".bias")) {
        std::fill(p, p + e.size, Scalar(0));
      } else {
        const double sd = ends_with(e.name, "c_proj.weight") ? std_proj : std_w;
        for (index_t i = 0; i < e.size; ++i) p[i] = static_cast<Scalar>(sd * rng.normal());
      }
    }
    set_parameters(host.data());
  }

  /// token_logps: device buffer of batch.n_tokens() elements (0 where there is no target).
  /// Training mode keeps the activations for backward(); inference keeps one layer's worth.
  ForwardRecord forward(const PackedBatch& batch, Scalar* token_logps,
                        ForwardMode mode = ForwardMode::training) {
    PREFOPT_CHECK(mode == ForwardMode::inference || has_gradients(),
                  "Gpt2::forward: a model built with GradientMemory::none runs inference mode only");
    std::vector<index_t> rows;
    std::vector<token_t> targets;
    for (index_t i = 0; i < batch.n_tokens(); ++i)
      if (batch.targets[i] != no_target) {
        rows.push_back(i);
        targets.push_back(batch.targets[i]);
      }
    run_blocks(batch, rows, targets, mode);
    const index_t R = static_cast<index_t>(rows.size()), C = config_.n_embd, V = config_.vocab_size;
    Scalar* a = arena_.data();
    Scalar* logp_sel = a + layout_.logp_sel;
    for (index_t r0 = 0; r0 < R; r0 += layout_.logits_rows) {  // one chunk when training
      const index_t nr = std::min(layout_.logits_rows, R - r0);
      matmul_forward(device_, a + layout_.logits, a + layout_.lnf + r0 * C, weights_.wte,
                     static_cast<const Scalar*>(nullptr), nr, C, V, WeightLayout::out_in);
      logsoftmax_gather_forward(device_, logp_sel + r0, a + layout_.lse, a + layout_.logits,
                                sel_targets_.data() + r0, nr, V);
    }
    fill(device_, token_logps, batch.n_tokens(), Scalar(0));
    scatter_add_rows(device_, token_logps, logp_sel, sel_rows_.data(), R, index_t{1});
    return ForwardRecord{generation_, batch.n_tokens(), mode};
  }

  /// gradients() += d(sum_i token_weights[i] * token_logps[i]) / d(parameters), for the
  /// activations of `record`, which must be the latest training-mode forward.
  /// token_weights: device buffer of n_tokens elements; entries at positions without target are ignored.
  void backward(const ForwardRecord& record, const Scalar* token_weights) {
    PREFOPT_CHECK(record.generation == generation_ && record.mode == ForwardMode::training,
                  "Gpt2::backward: the record is not the latest training-mode forward");
    PREFOPT_CHECK(has_gradients(), "Gpt2::backward: the model was built with GradientMemory::none");
    const index_t N = layout_.n, R = layout_.rows, C = config_.n_embd, F = config_.mlp_width(),
                  V = config_.vocab_size, NH = config_.n_head;
    Scalar* a = arena_.data();
    const auto& w = weights_;
    const auto& g = weight_grads_;
    Scalar *dres = a + layout_.dres, *dc = a + layout_.dc, *dqkv = a + layout_.dqkv,
           *dfc = a + layout_.dfc, *dsel = a + layout_.dsel, *dlnf = a + layout_.dlnf;

    gather_rows(device_, a + layout_.w_sel, token_weights, sel_rows_.data(), R, index_t{1});
    logsoftmax_gather_backward(device_, a + layout_.logits, a + layout_.lse, sel_targets_.data(),
                               a + layout_.w_sel, R, V);
    matmul_backward(device_, dlnf, g.wte, static_cast<Scalar*>(nullptr), a + layout_.logits,
                    a + layout_.lnf, w.wte, R, C, V, WeightLayout::out_in);
    fill(device_, dsel, R * C, Scalar(0));
    layernorm_backward(device_, dsel, g.ln_f_weight, g.ln_f_bias, dlnf, a + layout_.sel,
                       w.ln_f_weight, a + layout_.lnf_mean, a + layout_.lnf_rstd, R, C);
    fill(device_, dres, N * C, Scalar(0));
    scatter_add_rows(device_, dres, dsel, sel_rows_.data(), R, C);

    for (index_t l = config_.n_layer - 1; l >= 0; --l) {
      const Layer x = layer(l);
      auto W = [&](LayerTensor t) { return w(l, t); };
      auto G = [&](LayerTensor t) { return g(l, t); };
      using T = LayerTensor;
      // MLP branch: res_out = res_mid + c_proj(gelu(c_fc(ln_2(res_mid))))
      matmul_backward(device_, dfc, G(T::mlp_c_proj_weight), G(T::mlp_c_proj_bias), dres, x.gelu,
                      W(T::mlp_c_proj_weight), N, F, C, WeightLayout::in_out);
      gelu_backward(device_, dfc, dfc, x.fc, N * F);
      matmul_backward(device_, dc, G(T::mlp_c_fc_weight), G(T::mlp_c_fc_bias), dfc, x.ln2,
                      W(T::mlp_c_fc_weight), N, C, F, WeightLayout::in_out);
      layernorm_backward(device_, dres, G(T::ln_2_weight), G(T::ln_2_bias), dc, x.res_mid,
                         W(T::ln_2_weight), x.ln2_mean, x.ln2_rstd, N, C);
      // Attention branch: res_mid = res_in + c_proj(attention(c_attn(ln_1(res_in))))
      matmul_backward(device_, dc, G(T::attn_c_proj_weight), G(T::attn_c_proj_bias), dres, x.atty,
                      W(T::attn_c_proj_weight), N, C, C, WeightLayout::in_out);
      attention_backward(device_, dqkv, a + layout_.datt, dc, x.qkv, x.att, packed_offsets(), NH, C);
      matmul_backward(device_, dc, G(T::attn_c_attn_weight), G(T::attn_c_attn_bias), dqkv, x.ln1,
                      W(T::attn_c_attn_weight), N, C, 3 * C, WeightLayout::in_out);
      layernorm_backward(device_, dres, G(T::ln_1_weight), G(T::ln_1_bias), dc, x.res_in,
                         W(T::ln_1_weight), x.ln1_mean, x.ln1_rstd, N, C);
    }
    embedding_backward(device_, g.wte, g.wpe, dres, tokens_.data(), positions_.data(), N, C);
    ++generation_;  // the logits were consumed in place; a second backward would be wrong
  }

  /// logits: device buffer (n_sequences, vocab_size), the logits at each sequence's last position
  /// (what generation samples from). Runs in inference mode.
  void last_logits(const PackedBatch& batch, Scalar* logits) {
    std::vector<index_t> rows;
    std::vector<token_t> targets;
    for (index_t s = 0; s < batch.n_sequences(); ++s) {
      rows.push_back(batch.offsets[s + 1] - 1);
      targets.push_back(0);
    }
    run_blocks(batch, rows, targets, ForwardMode::inference);
    const index_t C = config_.n_embd;
    matmul_forward(device_, logits, arena_.data() + layout_.lnf, weights_.wte,
                   static_cast<const Scalar*>(nullptr), batch.n_sequences(), C, config_.vocab_size,
                   WeightLayout::out_in);
  }

  /// Generation over a key/value cache: appends new tokens to some of the cache's sequences and
  /// returns the logits at each one's last new position. Only the new rows are computed; their
  /// keys and values join the cache, so a decoding step costs one position per sequence and a
  /// prompt (prefill) goes through the same call with all its tokens at once.
  ///   slots (n): distinct cache slots; new_offsets (n+1): tokens[new_offsets[i], new_offsets[i+1])
  ///   (at least one) are slot slots[i]'s next tokens, at positions cache.length(slots[i]) onward
  ///   logits: device buffer (n, vocab_size)
  /// Equals last_logits() over each slot's whole prefix, up to floating-point rounding.
  void decode(KvCache<Device, Scalar>& cache, const std::vector<index_t>& slots,
              const std::vector<token_t>& tokens, const std::vector<index_t>& new_offsets, Scalar* logits) {
    PREFOPT_CHECK(cache.config() == config_, "Gpt2::decode: the cache was made for another configuration");
    const index_t n = static_cast<index_t>(slots.size()), N = static_cast<index_t>(tokens.size());
    PREFOPT_CHECK(n > 0 && static_cast<index_t>(new_offsets.size()) == n + 1 && new_offsets.front() == 0 &&
                      new_offsets.back() == N,
                  "Gpt2::decode: new_offsets must have slots.size()+1 entries from 0 to tokens.size()");
    const index_t C = config_.n_embd, F = config_.mlp_width(), NH = config_.n_head, V = config_.vocab_size;
    cache.positions_host.resize(static_cast<std::size_t>(N));
    cache.past_host.resize(static_cast<std::size_t>(n));
    cache.score_offsets_host.resize(static_cast<std::size_t>(n + 1));
    cache.last_rows_host.resize(static_cast<std::size_t>(n));
    cache.score_offsets_host[0] = 0;
    for (index_t i = 0; i < n; ++i) {
      const index_t b = slots[i], o = new_offsets[i], count = new_offsets[i + 1] - o;
      PREFOPT_CHECK(b >= 0 && b < cache.batch_size(), "Gpt2::decode: slot ", b, " outside [0, ",
                    cache.batch_size(), ")");
      for (index_t j = 0; j < i; ++j) PREFOPT_CHECK(slots[j] != b, "Gpt2::decode: slot ", b, " appears twice");
      PREFOPT_CHECK(count > 0, "Gpt2::decode: slot ", b, " has no new tokens");
      const index_t past = cache.length(b);
      PREFOPT_CHECK(past + count <= cache.max_len(), "Gpt2::decode: slot ", b, " would hold ", past + count,
                    " positions but the cache has max_len=", cache.max_len());
      for (index_t t = 0; t < count; ++t) {
        const token_t id = tokens[o + t];
        PREFOPT_CHECK(id >= 0 && id < V, "Gpt2::decode: token ", id, " is outside the vocabulary [0, ", V, ")");
        cache.positions_host[o + t] = static_cast<token_t>(past + t);
      }
      cache.past_host[i] = past;
      cache.score_offsets_host[i + 1] = cache.score_offsets_host[i] + NH * count * (past + count);
      cache.last_rows_host[i] = o + count - 1;
    }
    upload(cache.tokens_dev, tokens);
    upload(cache.positions_dev, cache.positions_host);
    upload(cache.new_offsets_dev, new_offsets);
    upload(cache.slots_dev, slots);
    upload(cache.past_dev, cache.past_host);
    upload(cache.score_offsets_dev, cache.score_offsets_host);
    upload(cache.last_rows_dev, cache.last_rows_host);
    cache.prepare_scratch(N, n, cache.score_offsets_host[n]);

    const Scalar eps = static_cast<Scalar>(config_.layer_norm_epsilon);
    const auto& w = weights_;
    const auto& L = cache.layout;
    Scalar* s = cache.scratch.data();
    Scalar *res = s + L.res, *ln = s + L.ln, *mean = s + L.mean, *rstd = s + L.rstd, *qkv = s + L.qkv,
           *atty = s + L.atty, *proj = s + L.proj, *fc = s + L.fc;
    embedding_forward(device_, res, cache.tokens_dev.data(), cache.positions_dev.data(), w.wte, w.wpe, N, C);
    for (index_t l = 0; l < config_.n_layer; ++l) {
      auto W = [&](LayerTensor t) { return w(l, t); };
      using T = LayerTensor;
      layernorm_forward(device_, ln, mean, rstd, res, W(T::ln_1_weight), W(T::ln_1_bias), N, C, eps);
      matmul_forward(device_, qkv, ln, W(T::attn_c_attn_weight), W(T::attn_c_attn_bias), N, C, 3 * C,
                     WeightLayout::in_out);
      attention_decode_forward(device_, atty, cache.keys(l), cache.values(l), s + L.scores, qkv,
                               cache.new_offsets_dev.data(), cache.slots_dev.data(), cache.past_dev.data(),
                               cache.score_offsets_dev.data(), n, N, NH, C, cache.max_len());
      matmul_forward(device_, proj, atty, W(T::attn_c_proj_weight), W(T::attn_c_proj_bias), N, C, C,
                     WeightLayout::in_out);
      residual_forward(device_, res, res, proj, N * C);
      layernorm_forward(device_, ln, mean, rstd, res, W(T::ln_2_weight), W(T::ln_2_bias), N, C, eps);
      matmul_forward(device_, fc, ln, W(T::mlp_c_fc_weight), W(T::mlp_c_fc_bias), N, C, F, WeightLayout::in_out);
      gelu_forward(device_, fc, fc, N * F);
      matmul_forward(device_, proj, fc, W(T::mlp_c_proj_weight), W(T::mlp_c_proj_bias), N, F, C,
                     WeightLayout::in_out);
      residual_forward(device_, res, res, proj, N * C);
    }
    gather_rows(device_, s + L.sel, res, cache.last_rows_dev.data(), n, C);
    layernorm_forward(device_, s + L.lnf, mean, rstd, s + L.sel, w.ln_f_weight, w.ln_f_bias, n, C, eps);
    matmul_forward(device_, logits, s + L.lnf, w.wte, static_cast<const Scalar*>(nullptr), n, C, V,
                   WeightLayout::out_in);
    for (index_t i = 0; i < n; ++i) cache.advance(slots[i], new_offsets[i + 1] - new_offsets[i]);
  }

  /// One decoding step: tokens[i] is slot slots[i]'s next token. logits: device buffer (n, vocab_size).
  void decode(KvCache<Device, Scalar>& cache, const std::vector<index_t>& slots, const std::vector<token_t>& tokens,
              Scalar* logits) {
    PREFOPT_CHECK(slots.size() == tokens.size(), "Gpt2::decode: ", slots.size(), " slots but ", tokens.size(),
                  " tokens");
    cache.step_offsets_host.resize(slots.size() + 1);
    for (std::size_t i = 0; i <= slots.size(); ++i) cache.step_offsets_host[i] = static_cast<index_t>(i);
    decode(cache, slots, tokens, cache.step_offsets_host, logits);
  }

  /// Bytes held by the activation arena (for memory reports).
  std::size_t activation_bytes() const noexcept { return arena_.size() * sizeof(Scalar); }

 private:
  struct Layer {
    Scalar *res_in, *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res_mid, *ln2, *ln2_mean,
        *ln2_rstd, *fc, *gelu, *res_out;
  };
  Layer layer(index_t l) {
    Scalar* a = arena_.data();
    Scalar* b = a + layout_.layer_offset(l);
    const index_t C = config_.n_embd;
    return Layer{a + layout_.residual_offset(l, C), b + layout_.ln1, b + layout_.ln1_mean,
                 b + layout_.ln1_rstd, b + layout_.qkv, b + layout_.att_p, b + layout_.atty,
                 b + layout_.res_mid, b + layout_.ln2, b + layout_.ln2_mean, b + layout_.ln2_rstd,
                 b + layout_.fc, b + layout_.gelu, a + layout_.residual_offset(l + 1, C)};
  }

  PackedOffsets packed_offsets() const {
    return PackedOffsets{seq_offsets_.data(), att_offsets_.data(), host_seq_offsets_.data(),
                         host_att_offsets_.data(), n_seq_};
  }

  template <class T>
  void upload(vector<T>& dst, const std::vector<T>& src) {
    if (dst.size() < src.size()) dst.resize(src.size());
    device_.copy_from_host(src.data(), static_cast<index_t>(src.size()), dst.data());
  }

  // Embeddings and all blocks, then ln_f on the selected rows (into layout_.lnf).
  void run_blocks(const PackedBatch& batch, const std::vector<index_t>& rows,
                  const std::vector<token_t>& targets, ForwardMode mode) {
    batch.validate(config_);
    const index_t N = batch.n_tokens(), C = config_.n_embd, F = config_.mlp_width(),
                  NH = config_.n_head, R = static_cast<index_t>(rows.size());
    n_seq_ = batch.n_sequences();
    std::vector<token_t> positions(static_cast<std::size_t>(N));
    host_att_offsets_.assign(static_cast<std::size_t>(n_seq_ + 1), 0);
    for (index_t s = 0; s < n_seq_; ++s) {
      const index_t L = batch.length(s);
      for (index_t t = 0; t < L; ++t) positions[batch.offsets[s] + t] = static_cast<token_t>(t);
      host_att_offsets_[s + 1] = host_att_offsets_[s] + NH * L * L;
    }
    host_seq_offsets_ = batch.offsets;
    upload(tokens_, batch.tokens);
    upload(positions_, positions);
    upload(seq_offsets_, host_seq_offsets_);
    upload(att_offsets_, host_att_offsets_);
    upload(sel_rows_, rows);
    upload(sel_targets_, targets);

    layout_ = Gpt2ActivationLayout(config_, N, R, host_att_offsets_.back(), mode);
    if (static_cast<index_t>(arena_.size()) < layout_.total)
      arena_.resize(static_cast<std::size_t>(layout_.total));
    ++generation_;

    const Scalar eps = static_cast<Scalar>(config_.layer_norm_epsilon);
    const auto& w = weights_;
    Scalar* a = arena_.data();
    embedding_forward(device_, a + layout_.residual_offset(0, C), tokens_.data(), positions_.data(),
                      w.wte, w.wpe, N, C);
    for (index_t l = 0; l < config_.n_layer; ++l) {
      const Layer x = layer(l);
      auto W = [&](LayerTensor t) { return w(l, t); };
      using T = LayerTensor;
      layernorm_forward(device_, x.ln1, x.ln1_mean, x.ln1_rstd, x.res_in, W(T::ln_1_weight),
                        W(T::ln_1_bias), N, C, eps);
      matmul_forward(device_, x.qkv, x.ln1, W(T::attn_c_attn_weight), W(T::attn_c_attn_bias), N, C,
                     3 * C, WeightLayout::in_out);
      attention_forward(device_, x.atty, x.att, x.qkv, packed_offsets(), NH, C);
      matmul_forward(device_, x.res_mid, x.atty, W(T::attn_c_proj_weight), W(T::attn_c_proj_bias),
                     N, C, C, WeightLayout::in_out);
      residual_forward(device_, x.res_mid, x.res_in, x.res_mid, N * C);
      layernorm_forward(device_, x.ln2, x.ln2_mean, x.ln2_rstd, x.res_mid, W(T::ln_2_weight),
                        W(T::ln_2_bias), N, C, eps);
      matmul_forward(device_, x.fc, x.ln2, W(T::mlp_c_fc_weight), W(T::mlp_c_fc_bias), N, C, F,
                     WeightLayout::in_out);
      gelu_forward(device_, x.gelu, x.fc, N * F);
      matmul_forward(device_, x.res_out, x.gelu, W(T::mlp_c_proj_weight), W(T::mlp_c_proj_bias), N,
                     F, C, WeightLayout::in_out);
      residual_forward(device_, x.res_out, x.res_mid, x.res_out, N * C);
    }
    gather_rows(device_, a + layout_.sel, a + layout_.residual_offset(config_.n_layer, C),
                sel_rows_.data(), R, C);
    layernorm_forward(device_, a + layout_.lnf, a + layout_.lnf_mean, a + layout_.lnf_rstd,
                      a + layout_.sel, w.ln_f_weight, w.ln_f_bias, R, C, eps);
  }

  Gpt2Config config_;
  ParameterTable table_;
  Device device_;
  vector<Scalar> params_, grads_, arena_;
  Gpt2View<Scalar> weights_, weight_grads_;
  Gpt2ActivationLayout layout_;
  vector<token_t> tokens_, positions_, sel_targets_;
  vector<index_t> seq_offsets_, att_offsets_, sel_rows_;
  // The same offsets on the host: devices that drive attention from the host read these, not
  // the device copies (device/packed_offsets.hpp).
  std::vector<index_t> host_seq_offsets_, host_att_offsets_;
  index_t n_seq_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace prefopt
