// SPDX-License-Identifier: MIT
// The single list of GPT-2's parameter tensors: Hugging Face name, shape and offset inside the
// contiguous parameter block. Allocation, named views, checkpoint I/O, initialisation and the
// per-tensor gradient tests all walk this table, so there are no parallel lists to keep in sync.
//
// Layouts are Hugging Face's, so checkpoint I/O is a straight copy:
//   wte [vocab, C], wpe [n_positions, C], Conv1D weights [in, out] (y = x W + b), biases [out].
// The lm_head is tied to wte (logits = h wte^T) and has no entry of its own.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt {

/// The tensors of one transformer block, in Hugging Face's state_dict order.
enum class LayerTensor : int {
  ln_1_weight, ln_1_bias,
  attn_c_attn_weight, attn_c_attn_bias,
  attn_c_proj_weight, attn_c_proj_bias,
  ln_2_weight, ln_2_bias,
  mlp_c_fc_weight, mlp_c_fc_bias,
  mlp_c_proj_weight, mlp_c_proj_bias,
};
inline constexpr int layer_tensor_count = 12;

/// Tensors outside the blocks.
enum class GlobalTensor : int { wte, wpe, ln_f_weight, ln_f_bias };

struct ParameterEntry {
  std::string name;            // HF name without the "transformer." prefix, e.g. "h.3.mlp.c_fc.bias"
  std::vector<index_t> shape;  // HF shape
  index_t offset = 0;          // first element inside the parameter block
  index_t size = 0;            // number of elements
  int layer = -1;              // block index, -1 for wte/wpe/ln_f
};

class ParameterTable {
 public:
  explicit ParameterTable(const Gpt2Config& config) : config_(config) {
    config.validate();
    const index_t C = config.n_embd, F = config.mlp_width();
    add("wte.weight", {config.vocab_size, C}, -1);
    add("wpe.weight", {config.n_positions, C}, -1);
    for (int l = 0; l < config.n_layer; ++l) {
      const std::string p = "h." + std::to_string(l) + ".";
      // Order must follow LayerTensor.
      add(p + "ln_1.weight", {C}, l);
      add(p + "ln_1.bias", {C}, l);
      add(p + "attn.c_attn.weight", {C, 3 * C}, l);
      add(p + "attn.c_attn.bias", {3 * C}, l);
      add(p + "attn.c_proj.weight", {C, C}, l);
      add(p + "attn.c_proj.bias", {C}, l);
      add(p + "ln_2.weight", {C}, l);
      add(p + "ln_2.bias", {C}, l);
      add(p + "mlp.c_fc.weight", {C, F}, l);
      add(p + "mlp.c_fc.bias", {F}, l);
      add(p + "mlp.c_proj.weight", {F, C}, l);
      add(p + "mlp.c_proj.bias", {C}, l);
    }
    add("ln_f.weight", {C}, -1);
    add("ln_f.bias", {C}, -1);
  }

  const Gpt2Config& config() const noexcept { return config_; }
  const std::vector<ParameterEntry>& entries() const noexcept { return entries_; }
  index_t total_size() const noexcept { return total_; }

  const ParameterEntry& global(GlobalTensor t) const {
    switch (t) {
      case GlobalTensor::wte: return entries_[0];
      case GlobalTensor::wpe: return entries_[1];
      case GlobalTensor::ln_f_weight: return entries_[entries_.size() - 2];
      case GlobalTensor::ln_f_bias: return entries_[entries_.size() - 1];
    }
    throw ArgumentError("ParameterTable::global: unknown tensor");
  }
  const ParameterEntry& layer(index_t l, LayerTensor t) const {
    PREFOPT_CHECK(l >= 0 && l < config_.n_layer, "ParameterTable: layer ", l, " out of range");
    return entries_[2 + l * layer_tensor_count + static_cast<int>(t)];
  }
  /// Entry by HF name; accepts an optional "transformer." prefix. Returns nullptr when unknown.
  const ParameterEntry* find(std::string name) const {
    static const std::string prefix = "transformer.";
    if (name.compare(0, prefix.size(), prefix) == 0) name.erase(0, prefix.size());
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }

 private:
  void add(std::string name, std::vector<index_t> shape, int layer) {
    index_t size = 1;
    for (index_t d : shape) size *= d;
    entries_.push_back(ParameterEntry{std::move(name), std::move(shape), total_, size, layer});
    total_ += size;
  }

  Gpt2Config config_;
  std::vector<ParameterEntry> entries_;
  index_t total_ = 0;
};

/// Pointers into a parameter (or gradient) block, named as Hugging Face names the tensors.
template <class Scalar>
struct Gpt2View {
  Scalar* wte = nullptr;
  Scalar* wpe = nullptr;
  Scalar* ln_f_weight = nullptr;
  Scalar* ln_f_bias = nullptr;
  std::vector<std::array<Scalar*, layer_tensor_count>> layers;

  Scalar* operator()(index_t l, LayerTensor t) const {
    return layers[static_cast<std::size_t>(l)][static_cast<int>(t)];
  }

  static Gpt2View make(const ParameterTable& table, Scalar* block) {
    Gpt2View v;
    v.wte = block + table.global(GlobalTensor::wte).offset;
    v.wpe = block + table.global(GlobalTensor::wpe).offset;
    v.ln_f_weight = block + table.global(GlobalTensor::ln_f_weight).offset;
    v.ln_f_bias = block + table.global(GlobalTensor::ln_f_bias).offset;
    v.layers.resize(static_cast<std::size_t>(table.config().n_layer));
    for (index_t l = 0; l < table.config().n_layer; ++l)
      for (int t = 0; t < layer_tensor_count; ++t)
        v.layers[static_cast<std::size_t>(l)][t] =
            block + table.layer(l, static_cast<LayerTensor>(t)).offset;
    return v;
  }
};

}  // namespace prefopt
