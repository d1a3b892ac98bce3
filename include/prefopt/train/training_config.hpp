// SPDX-License-Identifier: MIT
// TrainingConfig: the knobs of a run, named after Hugging Face TrainingArguments / TRL DPOConfig
// fields (docs/trainer.md maps each to its flag). Defaults are TrainingArguments' unless a comment
// says otherwise; the seed notebook overrides batch 4, accumulation 4, 1 epoch, lr 1e-5, beta 0.3,
// logging every 10 steps and saving at epoch end.
#pragma once

#include <cstdint>
#include <string>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/optim/lr_schedule.hpp"

namespace prefopt {

enum class SaveStrategy { No, Steps, Epoch };  // TrainingArguments.save_strategy / eval_strategy
enum class ReferenceMode {
  Precompute,  // score every pair with the reference once before training, store the numbers beside
               // the run and free the reference weights (TRL's precompute_ref_log_probs) — the default
  Model,       // keep a frozen reference model and score each micro-batch (TRL's default)
  None,        // reference-free losses (SimPO, ORPO, SLiC, SFT): no reference is loaded at all
};

inline SaveStrategy parse_save_strategy(const std::string& s) {
  if (s == "no") return SaveStrategy::No;
  if (s == "steps") return SaveStrategy::Steps;
  if (s == "epoch") return SaveStrategy::Epoch;
  throw ArgumentError("save/eval strategy must be no, steps or epoch, got '" + s + "'");
}
inline const char* save_strategy_name(SaveStrategy s) {
  return s == SaveStrategy::No ? "no" : s == SaveStrategy::Steps ? "steps" : "epoch";
}

struct TrainingConfig {
  std::string output_dir;                    // checkpoints, metrics.jsonl, reference log-probs
  index_t per_device_train_batch_size = 8;   // pairs per micro-batch
  index_t per_device_eval_batch_size = 8;
  index_t gradient_accumulation_steps = 1;
  double num_train_epochs = 3.0;             // whole epochs, or a fraction of the last
  std::int64_t max_steps = -1;               // > 0 overrides num_train_epochs
  double learning_rate = 5e-5;               // TrainingArguments; TRL DPOConfig uses 1e-6
  LrSchedulerType lr_scheduler_type = LrSchedulerType::Linear;
  std::int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;                // <= 0: no clipping
  std::int64_t logging_steps = 10;           // TRL >= 0.19's default (TrainingArguments: 500)
  SaveStrategy save_strategy = SaveStrategy::Steps;
  std::int64_t save_steps = 500;
  index_t save_total_limit = 0;              // keep the last N checkpoints; 0 keeps all
  SaveStrategy eval_strategy = SaveStrategy::No;
  std::int64_t eval_steps = 0;               // 0: logging_steps
  std::uint64_t seed = 42;
  ReferenceMode reference = ReferenceMode::Precompute;
  index_t precompute_ref_batch_size = 16;    // pairs per reference scoring batch
  bool progress = true;                      // progress bar on stderr
  bool reshard_on_resume = false;            // resume a checkpoint saved with another world size:
                                             // the remaining data order is re-sharded (not the
                                             // order an uninterrupted run would have taken)

  /// Throws ArgumentError naming the first bad field.
  void validate() const {
    PREFOPT_CHECK(!output_dir.empty(), "TrainingConfig: output_dir is required");
    PREFOPT_CHECK(per_device_train_batch_size >= 1, "TrainingConfig: per_device_train_batch_size must be >= 1, got ",
                  per_device_train_batch_size);
    PREFOPT_CHECK(per_device_eval_batch_size >= 1, "TrainingConfig: per_device_eval_batch_size must be >= 1, got ",
                  per_device_eval_batch_size);
    PREFOPT_CHECK(gradient_accumulation_steps >= 1, "TrainingConfig: gradient_accumulation_steps must be >= 1, got ",
                  gradient_accumulation_steps);
    PREFOPT_CHECK(max_steps > 0 || num_train_epochs > 0,
                  "TrainingConfig: need num_train_epochs > 0 or max_steps > 0, got ", num_train_epochs, " and ",
                  max_steps);
    PREFOPT_CHECK(learning_rate >= 0, "TrainingConfig: learning_rate must be >= 0, got ", learning_rate);
    PREFOPT_CHECK(warmup_steps >= 0 && warmup_ratio >= 0 && warmup_ratio <= 1,
                  "TrainingConfig: warmup_steps must be >= 0 and warmup_ratio in [0, 1]");
    PREFOPT_CHECK(logging_steps >= 1, "TrainingConfig: logging_steps must be >= 1, got ", logging_steps);
    PREFOPT_CHECK(save_strategy != SaveStrategy::Steps || save_steps >= 1,
                  "TrainingConfig: save_steps must be >= 1 with save_strategy=steps, got ", save_steps);
    PREFOPT_CHECK(save_total_limit >= 0, "TrainingConfig: save_total_limit must be >= 0");
    PREFOPT_CHECK(precompute_ref_batch_size >= 1, "TrainingConfig: precompute_ref_batch_size must be >= 1");
  }
};

}  // namespace prefopt
