// SPDX-License-Identifier: MIT
// Pair scoring: the per-sequence numbers every loss consumes (GUIDE §3). A micro-batch of pairs
// becomes one PackedBatch — prompt + chosen and, for pairwise losses, prompt + rejected — scored
// from the first completion token on, so the sums below are exactly TRL's completion log-probs
// S(y) = Σ_t log π(y_t | x, y_<t) over completion tokens (EOS included), prompt masked.
#pragma once

#include <algorithm>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/batcher.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/model/gpt2_activations.hpp"
#include "prefopt/model/packed_batch.hpp"

namespace prefopt {

/// What a micro-batch holds per pair: both completions (preference losses) or the chosen one only
/// (SFT, and anything else whose loss has uses_rejected = false).
enum class PairSequences { ChosenAndRejected, ChosenOnly };

constexpr index_t sequences_per_pair(PairSequences s) noexcept {
  return s == PairSequences::ChosenAndRejected ? 2 : 1;
}

/// Clears `batch` and appends the pairs `indices` of `pairs` in order. ChosenAndRejected: sequence
/// 2k is pair k's prompt + chosen, 2k + 1 its prompt + rejected (data/batcher.hpp's append_pair);
/// ChosenOnly: sequence k is pair k's prompt + chosen.
inline void fill_pair_batch(PackedBatch& batch, const std::vector<TokenizedPair>& pairs,
                            const std::vector<index_t>& indices, PairSequences what) {
  if (what == PairSequences::ChosenAndRejected) {
    fill_micro_batch(batch, pairs, indices);
    return;
  }
  batch.clear();
  std::vector<token_t> sequence;
  for (index_t i : indices) {
    PREFOPT_CHECK(i >= 0 && i < static_cast<index_t>(pairs.size()), "fill_pair_batch: pair index ", i,
                  " outside [0, ", pairs.size(), ")");
    const TokenizedPair& p = pairs[static_cast<std::size_t>(i)];
    PREFOPT_CHECK(!p.prompt_ids.empty() && !p.chosen_ids.empty(),
                  "fill_pair_batch: pair ", i, " has an empty prompt or chosen completion");
    sequence.assign(p.prompt_ids.begin(), p.prompt_ids.end());
    sequence.insert(sequence.end(), p.chosen_ids.begin(), p.chosen_ids.end());
    batch.add_sequence(sequence, static_cast<index_t>(p.prompt_ids.size()));
  }
}

/// Per-sequence completion log-prob sums and scored-token counts of one packed batch.
struct SequenceLogps {
  std::vector<double> sum;     // (n_sequences)
  std::vector<index_t> count;  // (n_sequences): positions with a target
};

/// Runs a model's forward over a packed batch and reduces it to one completion log-prob sum per
/// sequence, on the device (sequence_logp_sums, in position order and in double, the same order on
/// every device). score(model, batch, mode) leaves the sums there for the loss kernel
/// (train/pair_loss_kernel.hpp); score(..., out) also copies them to the host. Owns the device
/// buffers, so repeated calls allocate nothing once the largest batch has been seen.
template <class Model>
class SequenceScorer {
 public:
  using Scalar = typename Model::scalar_type;
  using Device = typename Model::device_type;

  /// Scores `batch`; in training mode the returned record feeds Model::backward. Afterwards
  /// device_sums() holds the sums and counts() the scored-token counts.
  auto score(Model& model, const PackedBatch& batch, ForwardMode mode) {
    const auto n = static_cast<std::size_t>(batch.n_tokens());
    const index_t n_seq = batch.n_sequences();
    if (device_logps_.size() < n) device_logps_.resize(n);
    auto record = model.forward(batch, device_logps_.data(), mode);
    upload(model.device(), targets_, batch.targets);
    upload(model.device(), offsets_, batch.offsets);
    if (device_sums_.size() < static_cast<std::size_t>(n_seq)) device_sums_.resize(static_cast<std::size_t>(n_seq));
    sequence_logp_sums(model.device(), device_sums_.data(), static_cast<const Scalar*>(device_logps_.data()),
                       static_cast<const token_t*>(targets_.data()), static_cast<const index_t*>(offsets_.data()), n_seq);
    counts_.assign(static_cast<std::size_t>(n_seq), 0);
    for (index_t s = 0; s < n_seq; ++s)
      for (index_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t)
        counts_[static_cast<std::size_t>(s)] += batch.targets[t] != no_target;
    counts_on_device_ = false;
    n_seq_ = n_seq;
    return record;
  }

  /// score(model, batch, mode), then the sums and counts on the host in `out`.
  auto score(Model& model, const PackedBatch& batch, ForwardMode mode, SequenceLogps& out) {
    auto record = score(model, batch, mode);
    out.sum.resize(static_cast<std::size_t>(n_seq_));
    model.device().copy_to_host(static_cast<const double*>(device_sums_.data()), n_seq_, out.sum.data());
    out.count = counts_;
    return record;
  }

  /// The latest batch's per-sequence sums (device memory, n_sequences).
  const double* device_sums() const noexcept { return device_sums_.data(); }
  /// Its scored-token counts per sequence, on the host, and on `device` (copied there on the first
  /// call after a score(): only the loss kernel needs them, not the reference scorer's batches).
  const std::vector<index_t>& counts() const noexcept { return counts_; }
  const index_t* device_counts(const Device& device) {
    if (!counts_on_device_) upload(device, device_counts_, counts_);
    counts_on_device_ = true;
    return device_counts_.data();
  }
  /// Device copies of the latest batch's targets (n_tokens) and sequence offsets (n_seq + 1).
  const token_t* device_targets() const noexcept { return targets_.data(); }
  const index_t* device_offsets() const noexcept { return offsets_.data(); }

 private:
  template <class T>
  static void upload(const Device& device, typename Device::template vector<T>& dst, const std::vector<T>& src) {
    if (dst.size() < src.size()) dst.resize(src.size());
    device.copy_from_host(src.data(), static_cast<index_t>(src.size()), dst.data());
  }

  typename Device::template vector<Scalar> device_logps_;
  typename Device::template vector<double> device_sums_;
  typename Device::template vector<token_t> targets_;
  typename Device::template vector<index_t> offsets_;
  typename Device::template vector<index_t> device_counts_;
  std::vector<index_t> counts_;
  bool counts_on_device_ = false;
  index_t n_seq_ = 0;
};

/// Completion log-prob sums of every pair under `model` (inference mode, `batch_size` pairs per
/// forward): chosen[i], rejected[i] (rejected left empty for ChosenOnly). `on_batch(done, total)`
/// reports progress.
struct PairSums {
  std::vector<double> chosen, rejected;
};

template <class Model, class OnBatch>
PairSums score_pairs(Model& model, const std::vector<TokenizedPair>& pairs, index_t batch_size,
                     PairSequences what, OnBatch&& on_batch) {
  PREFOPT_CHECK(batch_size >= 1, "score_pairs: batch_size must be >= 1, got ", batch_size);
  PairSums out;
  const auto n = static_cast<index_t>(pairs.size());
  out.chosen.resize(static_cast<std::size_t>(n));
  if (what == PairSequences::ChosenAndRejected) out.rejected.resize(static_cast<std::size_t>(n));
  SequenceScorer<Model> scorer;
  PackedBatch batch;
  SequenceLogps sums;
  std::vector<index_t> indices;
  const index_t per = sequences_per_pair(what);
  for (index_t first = 0; first < n; first += batch_size) {
    indices.clear();
    for (index_t i = first; i < std::min(n, first + batch_size); ++i) indices.push_back(i);
    fill_pair_batch(batch, pairs, indices, what);
    scorer.score(model, batch, ForwardMode::inference, sums);
    for (std::size_t k = 0; k < indices.size(); ++k) {
      out.chosen[static_cast<std::size_t>(indices[k])] = sums.sum[k * per];
      if (per == 2) out.rejected[static_cast<std::size_t>(indices[k])] = sums.sum[k * per + 1];
    }
    on_batch(std::min(n, first + batch_size), n);
  }
  return out;
}

template <class Model>
PairSums score_pairs(Model& model, const std::vector<TokenizedPair>& pairs, index_t batch_size, PairSequences what) {
  return score_pairs(model, pairs, batch_size, what, [](index_t, index_t) {});
}

}  // namespace prefopt
