// SPDX-License-Identifier: MIT
// Trainer<Model, Loss, PairBuilder, Comm>: preference optimization (and SFT) of a model over
// tokenized pairs — TRL's DPOTrainer loop with Hugging Face Trainer's knobs (TrainingConfig), made
// exact and resumable:
//   * an optimizer step takes gradient_accumulation_steps micro-batches of
//     per_device_train_batch_size pairs on every rank; its loss is the mean of the per-pair losses
//     over ALL its pairs (PerPair losses) or the sum of NLL over all its chosen completion tokens
//     divided by their number (PerToken: SFT), so accumulation and ranks never change the
//     objective (ANCHORS.md §c.7);
//   * gradients are summed across ranks by the communicator (NoComm: nothing to do), clipped to
//     max_grad_norm, and AdamW takes the step with the schedule's learning rate;
//   * metrics are TRL's names, means over every pair since the last log, across ranks;
//   * the data order is a pure function of (seed, epoch): the whole training state is the step
//     count, the weights, AdamW's moments and the open metric sums, all saved exactly in a
//     checkpoint, so a resumed run ends with the same weights bit for bit (on the CPU device).
// The reference is a frozen model (ReferenceMode::Model), log-probs computed once before training
// and cached beside the run (Precompute, the default), or nothing (reference-free losses).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/finite.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/batcher.hpp"
#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/io/safetensors.hpp"
#include "prefopt/io/safetensors_writer.hpp"
#include "prefopt/loss/pair_loss.hpp"
#include "prefopt/model/packed_batch.hpp"
#include "prefopt/optim/adamw.hpp"
#include "prefopt/optim/grad_clip.hpp"
#include "prefopt/optim/lr_schedule.hpp"
#include "prefopt/train/checkpoint_dir.hpp"
#include "prefopt/train/communicator.hpp"
#include "prefopt/train/metrics.hpp"
#include "prefopt/train/pair_loss_kernel.hpp"
#include "prefopt/train/pair_scoring.hpp"
#include "prefopt/train/progress.hpp"
#include "prefopt/train/reference_logps.hpp"
#include "prefopt/train/training_config.hpp"

namespace prefopt {

/// Training stopped because a number went bad; the message names the step and what was not
/// finite. The last checkpoint written before it is intact.
class TrainingError : public Error {
 public:
  using Error::Error;
};

/// One line of metrics.jsonl: step, epoch and the metrics (TRL names).
struct LogEntry {
  std::int64_t step = 0;
  nlohmann::ordered_json values;
};

struct TrainResult {
  std::int64_t global_step = 0, total_steps = 0;
  nlohmann::ordered_json last_log;   // the last training log entry
  nlohmann::ordered_json last_eval;  // the last evaluation, if any
  double seconds = 0;                // wall time of this process's training loop
  double tokens = 0;                 // tokens through the policy's forward+backward in this process (all ranks)
  std::filesystem::path final_model; // output_dir, where the final weights went
};

template <class Model, class Loss, class PairBuilder = void, class Comm = NoComm>
class Trainer {
  static_assert(loss::is_pair_loss_v<Loss>, "prefopt::Trainer: Loss does not model a pair loss (loss/pair_loss.hpp)");
  static_assert(is_communicator_v<Comm>, "prefopt::Trainer: Comm does not model a communicator (train/communicator.hpp)");

 public:
  using Device = typename Model::device_type;
  using Scalar = typename Model::scalar_type;
  static constexpr PairSequences sequences =
      Loss::uses_rejected ? PairSequences::ChosenAndRejected : PairSequences::ChosenOnly;

  Trainer(Model& policy, Loss loss, TrainingConfig config, std::vector<TokenizedPair> train_pairs,
          std::vector<TokenizedPair> eval_pairs = {}, Comm comm = {})
      : policy_(policy), loss_(loss), config_(std::move(config)), comm_(std::move(comm)),
        train_(std::move(train_pairs)), eval_(std::move(eval_pairs)),
        batcher_(static_cast<index_t>(train_.size()), batcher_options()),
        optimizer_(policy.num_parameters(), AdamW<Device, Scalar>::hf_param_groups(policy.parameter_table()),
                   adamw_config(), policy.device()),
        clipper_(policy.device(), policy.num_parameters()) {
    config_.validate();
    loss_.validate();
    PREFOPT_CHECK(!train_.empty(), "Trainer: no training pairs");
    PREFOPT_CHECK(policy.has_gradients(), "Trainer: the policy model was built without gradient memory");
    PREFOPT_CHECK(batcher_.max_micro_batches_per_epoch() >= 1, "Trainer: ", train_.size(), " pairs make no micro-batch");
    check_pairs_fit(train_, "training");
    check_pairs_fit(eval_, "eval");
    if constexpr (!Loss::needs_reference) config_.reference = ReferenceMode::None;
    steps_per_epoch_ = (batcher_.max_micro_batches_per_epoch() + config_.gradient_accumulation_steps - 1) /
                       config_.gradient_accumulation_steps;
    total_steps_ = config_.max_steps > 0
                       ? config_.max_steps
                       : static_cast<std::int64_t>(std::ceil(config_.num_train_epochs * static_cast<double>(steps_per_epoch_)));
    total_steps_ = std::max<std::int64_t>(total_steps_, 1);
    schedule_ = LrSchedule{config_.lr_scheduler_type, config_.learning_rate,
                           warmup_steps_from(config_.warmup_ratio, config_.warmup_steps, total_steps_), total_steps_};
  }

  const TrainingConfig& config() const noexcept { return config_; }
  const Loss& loss() const noexcept { return loss_; }
  std::int64_t global_step() const noexcept { return global_step_; }
  std::int64_t total_steps() const noexcept { return total_steps_; }
  std::int64_t steps_per_epoch() const noexcept { return steps_per_epoch_; }
  const LrSchedule& schedule() const noexcept { return schedule_; }
  Comm& communicator() noexcept { return comm_; }
  const std::vector<TokenizedPair>& train_pairs() const noexcept { return train_; }
  const std::vector<TokenizedPair>& eval_pairs() const noexcept { return eval_; }
  const AdamW<Device, Scalar>& optimizer() const noexcept { return optimizer_; }

  /// Tokenizer files copied into every checkpoint (so each is a loadable HF model directory).
  void set_tokenizer_dir(std::filesystem::path dir) { tokenizer_dir_ = std::move(dir); }
  /// Called on rank 0 for every log entry, after it is written to metrics.jsonl.
  void on_log(std::function<void(const LogEntry&)> fn) { on_log_ = std::move(fn); }
  /// Where precomputed reference log-probs are cached (default: output_dir).
  void set_reference_cache_dir(std::filesystem::path dir) { reference_cache_dir_ = std::move(dir); }

  // ---- the reference -------------------------------------------------------------------------

  /// ReferenceMode::Model: score each micro-batch with `reference` (frozen; forward only).
  void use_reference_model(Model& reference) {
    PREFOPT_CHECK(Loss::needs_reference, "Trainer: the ", Loss::name, " loss uses no reference model");
    check_same_architecture(reference);
    reference_model_ = &reference;
    config_.reference = ReferenceMode::Model;
  }

  /// ReferenceMode::Precompute: reference log-probs of the training (and eval) pairs, from the
  /// cache in the output directory when it was made for these weights and pairs, else computed
  /// now with `reference` (inference mode, precompute_ref_batch_size pairs per forward) and
  /// cached. Afterwards the caller may free `reference`; the trainer keeps only the numbers.
  void precompute_reference(Model& reference) {
    PREFOPT_CHECK(Loss::needs_reference, "Trainer: the ", Loss::name, " loss uses no reference model");
    check_same_architecture(reference);
    std::vector<Scalar> host(static_cast<std::size_t>(reference.num_parameters()));
    reference.get_parameters(host.data());
    const std::string weights = parameters_fingerprint(host.data(), reference.num_parameters());
    host = {};
    train_reference_ = cached_reference(reference, weights, train_, "reference_logps.json", "train");
    if (!eval_.empty()) eval_reference_ = cached_reference(reference, weights, eval_, "reference_logps_eval.json", "eval");
    reference_model_ = nullptr;
    config_.reference = ReferenceMode::Precompute;
  }

  /// Precomputed reference log-probs supplied by the caller (e.g. computed by another process).
  void use_reference_logps(ReferenceLogps train, std::optional<ReferenceLogps> eval = std::nullopt) {
    PREFOPT_CHECK(train.size() == static_cast<index_t>(train_.size()), "Trainer: reference log-probs for ",
                  train.size(), " pairs, training has ", train_.size());
    if (eval) PREFOPT_CHECK(eval->size() == static_cast<index_t>(eval_.size()), "Trainer: eval reference log-probs for ",
                            eval->size(), " pairs, eval has ", eval_.size());
    train_reference_ = std::move(train);
    eval_reference_ = std::move(eval);
    config_.reference = ReferenceMode::Precompute;
  }

  // ---- training --------------------------------------------------------------------------------

  /// Trains until total_steps(). `resume` names a checkpoint directory or an output directory
  /// whose latest checkpoint is continued (empty: start fresh). Writes the final model into
  /// output_dir. Throws TrainingError on a non-finite loss or gradient norm.
  TrainResult train(const std::filesystem::path& resume = {}) {
    check_reference_ready();
    const bool root = comm_.rank() == 0;
    if (!resume.empty()) restore_checkpoint(resolve_resume_checkpoint(resume));
    else if (root) start_metrics_file();
    TrainResult result;
    result.total_steps = total_steps_;
    ProgressBar bar("train", total_steps_, "steps", config_.progress && root, global_step_);
    bar_ = &bar;
    const auto t0 = ProgressBar::Clock::now();
    double tokens = 0;
    while (global_step_ < total_steps_) {
      tokens += run_step();
      ++global_step_;
      const bool last = global_step_ == total_steps_;
      const bool epoch_end = global_step_ % steps_per_epoch_ == 0;
      if (global_step_ % config_.logging_steps == 0 || last) log_training(result);
      if (eval_due(epoch_end, last)) result.last_eval = evaluate_and_log();
      if (save_due(epoch_end)) save_checkpoint();
      bar.update(global_step_, last_note_);
    }
    bar.finish();
    bar_ = nullptr;
    result.seconds = std::chrono::duration<double>(ProgressBar::Clock::now() - t0).count();
    double all_tokens = tokens;
    comm_.all_reduce_sum(&all_tokens, 1);
    result.tokens = all_tokens;
    result.global_step = global_step_;
    result.final_model = config_.output_dir;
    if (root) save_model(config_.output_dir);
    comm_.barrier();
    return result;
  }

  /// Evaluation metrics over the eval pairs (eval_ prefixed TRL names), across ranks.
  nlohmann::ordered_json evaluate() {
    PREFOPT_CHECK(!eval_.empty(), "Trainer::evaluate: no eval pairs");
    check_reference_ready();
    MetricSums sums;
    const index_t n = static_cast<index_t>(eval_.size()), W = comm_.world_size(), R = comm_.rank();
    std::vector<index_t> mine;
    for (index_t i = R; i < n; i += W) mine.push_back(i);
    std::vector<index_t> indices;
    for (std::size_t first = 0; first < mine.size(); first += static_cast<std::size_t>(config_.per_device_eval_batch_size)) {
      indices.assign(mine.begin() + static_cast<std::ptrdiff_t>(first),
                     mine.begin() + static_cast<std::ptrdiff_t>(std::min(mine.size(), first + static_cast<std::size_t>(config_.per_device_eval_batch_size))));
      fill_pair_batch(batch_, eval_, indices, sequences);
      scorer_.score(policy_, batch_, ForwardMode::inference);
      const index_t n_pairs = static_cast<index_t>(indices.size());
      reserve_results(n_pairs);
      launch_pair_losses(reference_sums(batch_, indices, eval_reference_), 1.0, nullptr, 0, n_pairs);
      download_results(n_pairs);
      const index_t per = sequences_per_pair(sequences);
      for (index_t k = 0; k < n_pairs; ++k)
        add_metrics(sums, host_results_[static_cast<std::size_t>(k)], scorer_.counts()[static_cast<std::size_t>(k * per)]);
    }
    comm_.all_reduce_sum(sums.v.data(), MetricSums::n_fields);
    return sums.to_json("eval_", Loss::uses_rejected, has_nll());
  }

  /// What compute_gradients() did.
  struct StepGradients {
    double loss = 0;    // the step's objective over all ranks (mean per pair, or per chosen token)
    double pairs = 0;   // pairs in the step, all ranks
    double tokens = 0;  // tokens this rank pushed through forward + backward
  };

  /// The gradient of optimizer step global_step()'s objective, summed over ranks, into the
  /// policy's gradient block (no clipping, no update; the metric window counts the step's pairs).
  /// Reads the step's results back (one wait for the device) and throws TrainingError on a
  /// non-finite loss. Tests and benchmarks call it; train() runs the same queue with the clip
  /// and the update before that read.
  StepGradients compute_gradients() {
    StepGradients out = queue_gradients();
    collect_step(out);
    return out;
  }

  /// What the last optimizer step's clip found (its norm is TRL's grad_norm).
  const GradClipState& last_clip() const noexcept { return last_clip_; }

 private:
  // Queues forward, loss and backward of every micro-batch of step global_step() and the
  // gradient all-reduce on the device, with nothing read back: the loss kernel writes each pair's
  // PairLoss into device_results_ and one weight per sequence (dℓ/dS / N), which the device spreads
  // over the sequence's scored tokens. Returns the step's pair count and this rank's tokens; the
  // loss comes with collect_step().
  StepGradients queue_gradients() {
    check_reference_ready();
    const std::int64_t epoch = global_step_ / steps_per_epoch_;
    const std::int64_t step_in_epoch = global_step_ % steps_per_epoch_;
    if (order_epoch_ != epoch) {
      order_ = batcher_.epoch_order(static_cast<index_t>(epoch));
      order_epoch_ = epoch;
    }
    const index_t A = config_.gradient_accumulation_steps;
    const index_t local_micro = batcher_.micro_batches_per_epoch();
    const index_t first = static_cast<index_t>(step_in_epoch) * A;
    const index_t last = std::min<index_t>(first + A, local_micro);
    std::vector<std::vector<index_t>> micro;
    for (index_t b = first; b < last; ++b) micro.push_back(batcher_.micro_batch_of(order_, b));

    // The step's normalizer over all ranks: its pairs, or its chosen completion tokens.
    double counts[2] = {0, 0};
    for (const auto& idx : micro)
      for (index_t i : idx) {
        counts[0] += 1;
        counts[1] += static_cast<double>(train_[static_cast<std::size_t>(i)].chosen_ids.size());
      }
    const double local_pairs = counts[0];
    comm_.all_reduce_sum(counts, 2);
    const double normalizer = Loss::normalization == loss::Normalization::PerToken ? counts[1] : counts[0];
    PREFOPT_CHECK(normalizer > 0, "Trainer: step ", global_step_ + 1, " has no pairs");

    StepGradients out;
    out.pairs = counts[0];
    policy_.zero_gradients();
    const index_t per = sequences_per_pair(sequences);
    reserve_results(static_cast<index_t>(local_pairs));
    step_chosen_tokens_.clear();
    index_t done = 0;
    for (const auto& idx : micro) {
      fill_pair_batch(batch_, train_, idx, sequences);
      out.tokens += static_cast<double>(batch_.n_tokens());
      const auto record = scorer_.score(policy_, batch_, ForwardMode::training);
      const double* reference = reference_sums(batch_, idx, train_reference_);
      if (device_seq_weights_.size() < static_cast<std::size_t>(batch_.n_sequences()))
        device_seq_weights_.resize(static_cast<std::size_t>(batch_.n_sequences()));
      const index_t n_pairs = static_cast<index_t>(idx.size());
      launch_pair_losses(reference, normalizer, device_seq_weights_.data(), done, n_pairs);
      for (index_t k = 0; k < n_pairs; ++k) step_chosen_tokens_.push_back(scorer_.counts()[static_cast<std::size_t>(k * per)]);
      done += n_pairs;
      if (device_weights_.size() < static_cast<std::size_t>(batch_.n_tokens()))
        device_weights_.resize(static_cast<std::size_t>(batch_.n_tokens()));
      broadcast_sequence_weights(policy_.device(), device_weights_.data(),
                                 static_cast<const Scalar*>(device_seq_weights_.data()), scorer_.device_targets(),
                                 scorer_.device_offsets(), batch_.n_sequences(), batch_.n_tokens());
      policy_.backward(record, device_weights_.data());
    }
    step_pairs_.clear();
    for (const auto& idx : micro) step_pairs_.insert(step_pairs_.end(), idx.begin(), idx.end());
    step_normalizer_ = normalizer;
    comm_.all_reduce_sum(policy_.device(), policy_.gradients(), policy_.num_parameters());
    return out;
  }

  // The step's one read-back, once everything it queued is on the device: its PairLoss records (and,
  // after an update, the clip's verdict) come to the host for the metrics, added in pair order on
  // every device, and the non-finite stop. The loss is summed over ranks first, so a bad pair on
  // any rank stops every rank at the same step (a rank stopping alone would leave the others
  // waiting in the next collective).
  void collect_step(StepGradients& out, bool updated = false) {
    const index_t n_pairs = static_cast<index_t>(step_pairs_.size());
    download_results(n_pairs);
    if (updated) last_clip_ = clipper_.read();
    double loss = 0;
    for (const loss::PairLoss& r : host_results_) loss += r.loss / step_normalizer_;
    comm_.all_reduce_sum(&loss, 1);
    for (index_t k = 0; k < n_pairs; ++k) {
      const loss::PairLoss& r = host_results_[static_cast<std::size_t>(k)];
      if (!is_finite_value(r.loss) || !is_finite_value(r.d_policy_chosen) || !is_finite_value(r.d_policy_rejected))
        throw TrainingError(non_finite_message("loss", r.loss, step_pairs_[static_cast<std::size_t>(k)]));
    }
    if (!is_finite_value(loss)) throw TrainingError(non_finite_message("loss", loss, -1, " on another rank"));
    if (updated && !is_finite_value(last_clip_.total_norm))
      throw TrainingError(non_finite_message("gradient norm", last_clip_.total_norm, -1));
    for (index_t k = 0; k < n_pairs; ++k)
      add_metrics(window_, host_results_[static_cast<std::size_t>(k)], step_chosen_tokens_[static_cast<std::size_t>(k)]);
    out.loss = loss;
  }

 public:

  /// Writes the current weights as a Hugging Face model directory (rank 0's job).
  void save_model(const std::filesystem::path& dir) const {
    std::vector<Scalar> host(static_cast<std::size_t>(policy_.num_parameters()));
    policy_.get_parameters(host.data());
    save_hf_checkpoint(dir, policy_.parameter_table(), host.data(), tokenizer_dir_);
  }

  /// Writes output_dir/checkpoint-<step> (rank 0; other ranks wait) and applies save_total_limit.
  std::filesystem::path save_checkpoint() {
    std::filesystem::path dir;
    // The open metric window is per rank until the next log sums it. The checkpoint keeps each
    // rank's sums (a resume with the same ranks restores them where they were, so the next log
    // adds the same numbers in the same order as the uninterrupted run: bit-identical metrics)
    // and their global sums (restored on rank 0 alone when re-sharding, so the next log's
    // all-reduce counts them once). One all-reduce of rank-slotted vectors brings every rank's
    // sums exactly (every slot but one is zero); the global sums add the slots in rank order.
    const std::size_t n_fields = MetricSums::n_fields;
    std::vector<double> rank_windows(static_cast<std::size_t>(comm_.world_size()) * n_fields, 0.0);
    std::copy(window_.v.begin(), window_.v.end(), rank_windows.begin() + static_cast<std::ptrdiff_t>(comm_.rank() * n_fields));
    comm_.all_reduce_sum(rank_windows.data(), static_cast<index_t>(rank_windows.size()));
    MetricSums global_window;
    for (std::size_t i = 0; i < rank_windows.size(); ++i) global_window.v[i % n_fields] += rank_windows[i];
    if (comm_.rank() == 0) {
      dir = write_checkpoint_directory(config_.output_dir, global_step_, [&](const std::filesystem::path& tmp) {
        save_model(tmp);
        const index_t n = policy_.num_parameters();
        std::vector<Scalar> m(static_cast<std::size_t>(n)), v(static_cast<std::size_t>(n));
        optimizer_.save(m.data(), v.data());
        save_safetensors_f32<Scalar>(tmp / optimizer_state_file,
                                     {{"exp_avg", {n}, m.data()}, {"exp_avg_sq", {n}, v.data()}},
                                     {{"format", "prefopt.adamw"}, {"step", std::to_string(optimizer_.step_count())}});
        write_file_atomically(tmp / trainer_state_file, trainer_state(global_window, rank_windows).dump(2) + "\n");
      });
      rotate_checkpoints(config_.output_dir, static_cast<std::size_t>(config_.save_total_limit));
    }
    comm_.barrier();
    return dir;
  }

  /// PairBuilder's data stage: reads `data` (a JSONL/JSONL.gz file or an hh-rlhf folder's
  /// `split`), builds pairs with PairBuilder, tokenizes them as TRL 0.12-0.15 does, and reports
  /// every stage's count in `report`.
  template <class Tokenizer, class Builder = PairBuilder>
  static std::vector<TokenizedPair> prepare_pairs(const std::string& data, const std::string& split,
                                                  const Tokenizer& tokenizer, const TokenizeOptions& options,
                                                  PairStageReport& report, ReadOptions read = {},
                                                  const Builder& builder = Builder{}) {
    static_assert(!std::is_void_v<Builder>, "Trainer::prepare_pairs needs a PairBuilder");
    JsonlReader reader(hh_rlhf_files(data, split), read);
    BuiltPairs built = build_pairs(reader, builder, report);
    return tokenize_pairs(tokenizer, built, options, report);
  }

 private:
  BatcherOptions batcher_options() const {
    BatcherOptions o;
    o.per_device_batch_size = config_.per_device_train_batch_size;
    o.seed = config_.seed;
    o.rank = comm_.rank();
    o.world_size = comm_.world_size();
    return o;
  }
  AdamWConfig adamw_config() const {
    AdamWConfig c;
    c.beta1 = config_.adam_beta1;
    c.beta2 = config_.adam_beta2;
    c.eps = config_.adam_epsilon;
    c.weight_decay = config_.weight_decay;
    return c;
  }
  // Whether the loss has an NLL term to log as nll_loss: probed once on a pair whose chosen
  // completion has a per-token NLL of 1 (a loss without such a term reports nll = 0).
  bool has_nll() const {
    loss::PairLogps probe;
    probe.policy_chosen = probe.policy_rejected = -1.0;
    probe.reference_chosen = probe.reference_rejected = -1.0;
    probe.chosen_tokens = probe.rejected_tokens = 1;
    return loss_(probe).nll != 0.0;
  }

  // Every sequence must fit the model's positions and vocabulary: better to say so now, naming
  // the pair, than to fail in the middle of an epoch.
  void check_pairs_fit(const std::vector<TokenizedPair>& pairs, const char* which) const {
    const index_t max_len = policy_.config().n_positions, vocab = policy_.config().vocab_size;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const TokenizedPair& p = pairs[i];
      PREFOPT_CHECK(!p.prompt_ids.empty() && !p.chosen_ids.empty() && (!Loss::uses_rejected || !p.rejected_ids.empty()),
                    "Trainer: ", which, " pair ", i, " has an empty prompt or completion");
      const std::size_t longest = p.prompt_ids.size() + std::max(p.chosen_ids.size(), Loss::uses_rejected ? p.rejected_ids.size() : 0);
      PREFOPT_CHECK(static_cast<index_t>(longest) <= max_len, "Trainer: ", which, " pair ", i, " has ", longest,
                    " tokens (prompt + completion) but the model has n_positions=", max_len,
                    "; lower max_length / max_prompt_length or use a model with more positions");
      for (const std::vector<token_t>* ids : {&p.prompt_ids, &p.chosen_ids, &p.rejected_ids})
        for (token_t id : *ids)
          PREFOPT_CHECK(id >= 0 && id < vocab, "Trainer: ", which, " pair ", i, " has token id ", id,
                        " outside the model's vocabulary [0, ", vocab, ")");
    }
  }

  void check_same_architecture(const Model& reference) const {
    PREFOPT_CHECK(reference.num_parameters() == policy_.num_parameters() &&
                      reference.config().vocab_size == policy_.config().vocab_size,
                  "Trainer: the reference model's architecture differs from the policy's (", reference.num_parameters(),
                  " vs ", policy_.num_parameters(), " parameters)");
  }

  void check_reference_ready() const {
    if constexpr (Loss::needs_reference) {
      if (config_.reference == ReferenceMode::Model)
        PREFOPT_CHECK(reference_model_ != nullptr, "Trainer: ReferenceMode::Model needs use_reference_model()");
      else
        PREFOPT_CHECK(train_reference_.has_value(), "Trainer: the ", Loss::name,
                      " loss needs a reference: call precompute_reference(), use_reference_model() or "
                      "use_reference_logps() before train()");
      if (!eval_.empty() && config_.reference != ReferenceMode::Model)
        PREFOPT_CHECK(eval_reference_.has_value(), "Trainer: eval pairs have no reference log-probs");
    }
  }

  ReferenceLogps cached_reference(Model& reference, const std::string& weights, const std::vector<TokenizedPair>& pairs,
                                  const char* file, const char* what) {
    const std::filesystem::path dir = reference_cache_dir_.empty() ? std::filesystem::path(config_.output_dir)
                                                                   : reference_cache_dir_;
    const std::filesystem::path path = dir / file;
    const std::string key = reference_key(weights, pairs, sequences);
    const bool root = comm_.rank() == 0;
    auto cached = load_reference_logps(path, key, static_cast<index_t>(pairs.size()));
    // Every rank must take the same branch (the scoring below is collective): use the cache only
    // when every rank found it (on several machines the output directory may not be shared).
    double found = cached ? 1.0 : 0.0;
    comm_.all_reduce_sum(&found, 1);
    if (found == static_cast<double>(comm_.world_size())) {
      if (root) std::cerr << "[reference] " << what << ": " << pairs.size() << " pairs from the cache " << path.string() << "\n";
      return std::move(*cached);
    }
    // Each rank scores an interleaved share; the sums are gathered by all-reduce (zeros elsewhere).
    const index_t n = static_cast<index_t>(pairs.size()), W = comm_.world_size(), R = comm_.rank();
    std::vector<TokenizedPair> mine;
    for (index_t i = R; i < n; i += W) mine.push_back(pairs[static_cast<std::size_t>(i)]);
    ProgressBar bar(std::string("reference ") + what, static_cast<index_t>(mine.size()), "pairs", config_.progress && root);
    ReferenceLogps part = compute_reference_logps(reference, mine, config_.precompute_ref_batch_size, sequences, key,
                                                  [&](index_t done, index_t) { bar.update(done); });
    bar.finish();
    ReferenceLogps all;
    all.key = key;
    all.chosen.assign(static_cast<std::size_t>(n), 0.0);
    if (sequences == PairSequences::ChosenAndRejected) all.rejected.assign(static_cast<std::size_t>(n), 0.0);
    for (index_t k = 0; k < static_cast<index_t>(mine.size()); ++k) {
      const auto i = static_cast<std::size_t>(R + k * W);
      all.chosen[i] = part.chosen[static_cast<std::size_t>(k)];
      if (!all.rejected.empty()) all.rejected[i] = part.rejected[static_cast<std::size_t>(k)];
    }
    comm_.all_reduce_sum(all.chosen.data(), n);
    if (!all.rejected.empty()) comm_.all_reduce_sum(all.rejected.data(), n);
    if (root) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      save_reference_logps(path, all);
      std::cerr << "[reference] " << what << ": " << n << " pairs scored, cached in " << path.string() << "\n";
    }
    comm_.barrier();
    return all;
  }

  // Device pointer to the reference sums of the batch's sequences (the batch holds the pairs
  // `indices` in order), or nullptr for a reference-free loss: the frozen reference model's
  // forward on the same batch, or the precomputed values uploaded in the batch's sequence layout.
  const double* reference_sums(const PackedBatch& batch, const std::vector<index_t>& indices,
                               const std::optional<ReferenceLogps>& precomputed) {
    if constexpr (!Loss::needs_reference) {
      return nullptr;
    } else {
      if (config_.reference == ReferenceMode::Model) {
        reference_scorer_.score(*reference_model_, batch, ForwardMode::inference);
        return reference_scorer_.device_sums();
      }
      const std::size_t per = static_cast<std::size_t>(sequences_per_pair(sequences));
      host_reference_.assign(indices.size() * per, 0.0);
      for (std::size_t k = 0; k < indices.size(); ++k) {
        const auto i = static_cast<std::size_t>(indices[k]);
        host_reference_[k * per] = precomputed->chosen[i];
        if (per == 2 && !precomputed->rejected.empty()) host_reference_[k * per + 1] = precomputed->rejected[i];
      }
      if (device_reference_.size() < host_reference_.size()) device_reference_.resize(host_reference_.size());
      policy_.device().copy_from_host(host_reference_.data(), static_cast<index_t>(host_reference_.size()),
                                      device_reference_.data());
      return device_reference_.data();
    }
  }

  // Room for `n_pairs` results in device_results_ (grown before any kernel of the step writes to it).
  void reserve_results(index_t n_pairs) {
    if (device_results_.size() < static_cast<std::size_t>(n_pairs)) device_results_.resize(static_cast<std::size_t>(n_pairs));
  }

  // The loss of the latest scored batch's `n_pairs` pairs on the device, into device_results_
  // from `first` on; `weights` (n_sequences, or nullptr) receives dℓ/dS / normalizer per sequence.
  void launch_pair_losses(const double* reference, double normalizer, Scalar* weights, index_t first, index_t n_pairs) {
    const PairLossKernel<Loss, Scalar> kernel{loss_, scorer_.device_sums(), reference,
                                              scorer_.device_counts(policy_.device()), sequences_per_pair(sequences),
                                              normalizer, weights, device_results_.data() + first};
    for_each_index(policy_.device(), n_pairs, kernel);
  }

  void download_results(index_t n_pairs) {
    host_results_.resize(static_cast<std::size_t>(n_pairs));
    policy_.device().copy_to_host(static_cast<const loss::PairLoss*>(device_results_.data()), n_pairs, host_results_.data());
  }

  void add_metrics(MetricSums& sums, const loss::PairLoss& r, index_t chosen_tokens) const {
    if (Loss::normalization == loss::Normalization::PerToken) sums.add(r, r.loss, static_cast<double>(chosen_tokens));
    else sums.add(r, r.loss, 1.0);
  }

  // One optimizer step; returns the tokens this rank pushed through forward+backward. Backward,
  // all-reduce, clip and update queue on the device one after the other. A step whose gradient
  // norm or pair losses are not finite is called off there: the clip's `proceed` flag, which the
  // loss gate may clear too, gates AdamW. The host reads the step's results once, at its end, and
  // then stops training with the weights and moments of the step before.
  double run_step() {
    StepGradients g = queue_gradients();
    clipper_.clip(policy_.gradients(), config_.max_grad_norm);
    for_each_index(policy_.device(), 1,
                   PairLossGate{static_cast<const loss::PairLoss*>(device_results_.data()),
                                static_cast<index_t>(step_pairs_.size()), &clipper_.device_state()->proceed});
    last_lr_ = schedule_.lr(global_step_);
    optimizer_.step(policy_.parameters(), policy_.gradients(), last_lr_, clipper_.device_proceed());
    collect_step(g, true);
    last_grad_norm_ = last_clip_.total_norm;
    return g.tokens;
  }

  std::string non_finite_message(const char* what, double value, index_t pair, const char* where = "") const {
    std::ostringstream m;
    m << "step " << global_step_ + 1 << ": non-finite " << what << " (" << value << ")" << where;
    if (pair >= 0) m << " on training pair " << pair;
    m << "; training stopped before the optimizer step";
    const auto saved = list_checkpoints(config_.output_dir);
    if (saved.empty()) m << " (no checkpoint was written yet)";
    else m << "; the last checkpoint, " << saved.back().string() << ", is intact";
    return m.str();
  }

  double epoch_now() const {
    return static_cast<double>(global_step_) / static_cast<double>(steps_per_epoch_);
  }

  void log_training(TrainResult& result) {
    MetricSums global = window_;
    comm_.all_reduce_sum(global.v.data(), MetricSums::n_fields);
    nlohmann::ordered_json values = global.to_json("", Loss::uses_rejected, has_nll());
    values["grad_norm"] = last_grad_norm_;
    values["learning_rate"] = last_lr_;
    values["epoch"] = epoch_now();
    window_.reset();
    result.last_log = values;
    emit(values);
    if (values.contains("loss")) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "loss %.4g", values["loss"].template get<double>());
      last_note_ = buf;
    }
  }

  nlohmann::ordered_json evaluate_and_log() {
    nlohmann::ordered_json values = evaluate();
    values["epoch"] = epoch_now();
    emit(values);
    return values;
  }

  void emit(const nlohmann::ordered_json& values) {
    if (comm_.rank() != 0) return;
    nlohmann::ordered_json line;
    line["step"] = global_step_;
    for (auto it = values.begin(); it != values.end(); ++it) line[it.key()] = it.value();
    {
      std::ofstream out(metrics_path(), std::ios::app | std::ios::binary);
      out << line.dump() << "\n";
      if (!out) throw CheckpointError(metrics_path().string(), "cannot append to the metrics log");
    }
    std::ostringstream console;
    console << "step " << global_step_ << "/" << total_steps_;
    for (auto it = values.begin(); it != values.end(); ++it) {
      console << "  " << it.key() << " ";
      if (it.value().is_number_float()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", it.value().template get<double>());
        console << buf;
      } else {
        console << it.value().dump();
      }
    }
    if (bar_ != nullptr) bar_->clear_line();
    std::cout << console.str() << std::endl;
    if (on_log_) on_log_(LogEntry{global_step_, line});
  }

  bool eval_due(bool epoch_end, bool last) const {
    if (eval_.empty()) return false;
    switch (config_.eval_strategy) {
      case SaveStrategy::No: return false;
      case SaveStrategy::Epoch: return epoch_end || last;
      case SaveStrategy::Steps: {
        const std::int64_t every = config_.eval_steps > 0 ? config_.eval_steps : config_.logging_steps;
        return global_step_ % every == 0 || last;
      }
    }
    return false;
  }
  bool save_due(bool epoch_end) const {
    switch (config_.save_strategy) {
      case SaveStrategy::No: return false;
      case SaveStrategy::Epoch: return epoch_end;
      case SaveStrategy::Steps: return global_step_ % config_.save_steps == 0;
    }
    return false;
  }

  std::filesystem::path metrics_path() const { return std::filesystem::path(config_.output_dir) / "metrics.jsonl"; }

  void start_metrics_file() {
    std::error_code ec;
    std::filesystem::create_directories(config_.output_dir, ec);
    if (ec) throw CheckpointError(config_.output_dir, "cannot create the output directory: " + ec.message());
    write_file_atomically(metrics_path(), std::string_view());
  }

  // What must match between the run that saved a checkpoint and the one resuming it: anything
  // that changes the data order, the objective or the schedule.
  nlohmann::json run_shape() const {
    nlohmann::json j;
    j["loss"] = Loss::name;
    j["n_train_pairs"] = train_.size();
    j["train_pairs_fingerprint"] = pairs_fingerprint(train_);
    j["seed"] = config_.seed;
    j["per_device_train_batch_size"] = config_.per_device_train_batch_size;
    j["gradient_accumulation_steps"] = config_.gradient_accumulation_steps;
    j["world_size"] = comm_.world_size();
    j["total_steps"] = total_steps_;
    j["num_parameters"] = policy_.num_parameters();
    return j;
  }

  nlohmann::json trainer_state(const MetricSums& global_window, const std::vector<double>& rank_windows) const {
    nlohmann::json j;
    j["format"] = "prefopt.trainer_state.v1";
    j["global_step"] = global_step_;
    j["epoch"] = epoch_now();
    j["run"] = run_shape();
    j["schedule"] = {{"type", static_cast<int>(schedule_.type)},
                     {"base_lr", schedule_.base_lr},
                     {"warmup_steps", schedule_.warmup_steps},
                     {"total_steps", schedule_.total_steps}};
    j["metric_window"] = global_window.to_state();
    nlohmann::json per_rank = nlohmann::json::array();
    for (std::size_t r = 0; r * MetricSums::n_fields < rank_windows.size(); ++r)
      per_rank.push_back(std::vector<double>(rank_windows.begin() + static_cast<std::ptrdiff_t>(r * MetricSums::n_fields),
                                             rank_windows.begin() + static_cast<std::ptrdiff_t>((r + 1) * MetricSums::n_fields)));
    j["metric_window_per_rank"] = per_rank;
    j["last_grad_norm"] = last_grad_norm_;
    j["last_learning_rate"] = last_lr_;
    return j;
  }

  void restore_checkpoint(const std::filesystem::path& dir) {
    const std::filesystem::path state_path = dir / trainer_state_file;
    const nlohmann::json state = read_json_file(state_path);
    try {
      if (state.at("format").get<std::string>() != "prefopt.trainer_state.v1")
        throw CheckpointError(state_path.string(), "unknown trainer state format " + state.at("format").dump());
      const nlohmann::json saved = state.at("run"), now = run_shape();
      const bool reshard = config_.reshard_on_resume && saved.contains("world_size") &&
                           saved["world_size"] != now["world_size"];
      // world_size first: a different one also changes total_steps, and is the reason to name.
      std::vector<std::string> keys{"world_size"};
      for (auto it = now.begin(); it != now.end(); ++it)
        if (it.key() != "world_size") keys.push_back(it.key());
      for (const std::string& key : keys) {
        const auto it = now.find(key);
        // Re-sharding changes the ranks, hence the global batch and the number of steps.
        if (reshard && (it.key() == "world_size" || it.key() == "total_steps")) continue;
        if (!saved.contains(it.key()) || saved[it.key()] != it.value()) {
          std::string hint;
          if (it.key() == "world_size")
            hint = " (a different number of ranks changes the data order and the global batch; set "
                   "reshard_on_resume / pass --reshard to continue anyway with the data re-sharded)";
          throw CheckpointError(state_path.string(), "cannot resume: " + it.key() + " was " +
                                                         (saved.contains(it.key()) ? saved[it.key()].dump() : "absent") +
                                                         " in the saved run, is " + it.value().dump() + " now" + hint);
        }
      }
      global_step_ = state.at("global_step").get<std::int64_t>();
      if (reshard && comm_.rank() == 0)
        std::cerr << "[train] re-sharding: the checkpoint was saved by " << saved["world_size"].dump() << " ranks, this run has "
                  << comm_.world_size() << "; step " << global_step_ << " continues at epoch "
                  << global_step_ / steps_per_epoch_ << ", micro-batch " << (global_step_ % steps_per_epoch_) * config_.gradient_accumulation_steps
                  << " of the new shards (some pairs of the interrupted epoch may be seen twice or not at all)\n";
      PREFOPT_CHECK(global_step_ <= total_steps_, "Trainer: the checkpoint is at step ", global_step_,
                    " but this run has only ", total_steps_, " steps");
      window_.reset();
      const auto per_rank = state.find("metric_window_per_rank");  // absent in older checkpoints
      if (!reshard && per_rank != state.end() && per_rank->size() == static_cast<std::size_t>(comm_.world_size()))
        window_.from_state(per_rank->at(static_cast<std::size_t>(comm_.rank())));
      else if (comm_.rank() == 0)
        window_.from_state(state.at("metric_window"));
      last_grad_norm_ = state.at("last_grad_norm").get<double>();
      last_lr_ = state.at("last_learning_rate").get<double>();
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(state_path.string(), std::string("malformed trainer state: ") + e.what());
    }
    const index_t n = policy_.num_parameters();
    {
      std::vector<Scalar> host(static_cast<std::size_t>(n));
      load_hf_parameters(dir, policy_.parameter_table(), host.data());
      policy_.set_parameters(host.data());
    }
    {
      SafetensorsFile file(dir / optimizer_state_file);
      const auto m = file.read<Scalar>("exp_avg");
      const auto v = file.read<Scalar>("exp_avg_sq");
      if (static_cast<index_t>(m.size()) != n || static_cast<index_t>(v.size()) != n)
        throw CheckpointError(file.path().string(), "optimizer moments have the wrong size (expected " +
                                                        std::to_string(n) + " elements)");
      optimizer_.restore(global_step_, m.data(), v.data());
    }
    if (comm_.rank() == 0) truncate_metrics_file();
    if (comm_.rank() == 0)
      std::cerr << "[train] resumed from " << dir.string() << " at step " << global_step_ << " of " << total_steps_ << "\n";
  }

  // Keeps the metrics.jsonl lines up to the resumed step: the rest are re-logged identically.
  void truncate_metrics_file() {
    std::string kept;
    std::ifstream in(metrics_path(), std::ios::binary);
    std::string line;
    long number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        break;  // a line torn by the kill: it and anything after it are re-logged
      }
      if (!j.contains("step") || j["step"].get<std::int64_t>() > global_step_) break;
      kept += line + "\n";
    }
    in.close();
    write_file_atomically(metrics_path(), kept);
  }

  Model& policy_;
  Loss loss_;
  TrainingConfig config_;
  Comm comm_;
  std::vector<TokenizedPair> train_, eval_;
  Batcher batcher_;
  AdamW<Device, Scalar> optimizer_;
  LrSchedule schedule_{};
  std::int64_t steps_per_epoch_ = 1, total_steps_ = 1, global_step_ = 0;
  Model* reference_model_ = nullptr;
  std::optional<ReferenceLogps> train_reference_, eval_reference_;
  std::filesystem::path tokenizer_dir_, reference_cache_dir_;
  std::function<void(const LogEntry&)> on_log_;

  // Scratch reused across steps (no per-step allocation once the largest batch has been seen).
  std::vector<index_t> order_;
  std::int64_t order_epoch_ = -1;
  PackedBatch batch_;
  SequenceScorer<Model> scorer_, reference_scorer_;
  std::vector<double> host_reference_;
  typename Device::template vector<double> device_reference_;
  typename Device::template vector<loss::PairLoss> device_results_;
  std::vector<loss::PairLoss> host_results_;
  std::vector<index_t> step_chosen_tokens_;
  std::vector<index_t> step_pairs_;  // the training pairs of the step in flight, in pair order
  double step_normalizer_ = 1;
  GradientClipper<Device, Scalar> clipper_;
  GradClipState last_clip_;
  typename Device::template vector<Scalar> device_seq_weights_, device_weights_;

  MetricSums window_;
  double last_grad_norm_ = 0, last_lr_ = 0;
  std::string last_note_;
  ProgressBar* bar_ = nullptr;
};

}  // namespace prefopt
