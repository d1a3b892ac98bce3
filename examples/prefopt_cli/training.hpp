// SPDX-License-Identifier: MIT
// What `prefopt sft`, `prefopt dpo` and `prefopt score` share: TRL-named flags (DPOConfig /
// TrainingArguments fields with '-' for '_'), a --config file of the same names, model loading and
// the data stage (an hh-rlhf/JSONL source through a pair builder, or a pairs file of text or ids).
#pragma once

#include <cmath>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"
#include "prefopt/data/pairs_file.hpp"
#include "prefopt/data/random_split.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/io/load_pretrained.hpp"
#include "prefopt/loss/losses.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "prefopt/train/trainer.hpp"

namespace prefopt::cli {

using CpuModel = Gpt2<CpuDevice, float>;

/// The tokenizer of a model directory when it has one, else `fallback`.
inline std::string tokenizer_dir_for(const std::string& model_dir, const std::string& fallback) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(std::filesystem::path(model_dir) / "vocab.json", ec) ||
      std::filesystem::is_regular_file(std::filesystem::path(model_dir) / "tokenizer.json", ec))
    return model_dir;
  return fallback;
}

/// Flags of the data stage.
struct DataFlags {
  std::string data, split = "train", builder = "let-me-explain", pairs, eval_data, eval_split = "test";
  double eval_fraction = 0;
  index_t max_length = 512, max_prompt_length = 256;
  std::string length_mode, eos = "append-if-missing";
  bool skip_bad_records = false;

  void add(po::options_description& o) {
    o.add_options()
        ("data", po::value(&data), "hh-rlhf / JSONL data: a .jsonl(.gz) file or an hh-rlhf folder, read with --builder")
        ("split", po::value(&split)->default_value(split), "split to read from an hh-rlhf folder")
        ("builder", po::value(&builder)->default_value(builder), "pair builder for --data: let-me-explain, hh-rlhf, jsonl")
        ("pairs", po::value(&pairs), "instead of --data: a JSONL of pairs, text (prompt/chosen/rejected) or ids "
                                     "(prompt_ids/chosen_ids/rejected_ids, as `prefopt pairs --out` writes)")
        ("eval-data", po::value(&eval_data), "evaluation pairs, read like --data (or --pairs when it ends in .jsonl and has pairs)")
        ("eval-split", po::value(&eval_split)->default_value(eval_split), "split of --eval-data in an hh-rlhf folder")
        ("eval-fraction", po::value(&eval_fraction)->default_value(eval_fraction),
         "hold out this fraction of the training pairs (a seeded, deterministic choice) for evaluation")
        ("max-length", po::value(&max_length)->default_value(max_length), "max tokens of prompt + completion (DPOConfig.max_length)")
        ("max-prompt-length", po::value(&max_prompt_length)->default_value(max_prompt_length), "max prompt tokens (DPOConfig.max_prompt_length)")
        ("length-mode", po::value(&length_mode),
         "filter (drop over-long pairs: the seed's, default for let-me-explain) or truncate (TRL's, default otherwise)")
        ("eos", po::value(&eos)->default_value(eos), "append-if-missing, or trl-0.12 (TRL 0.12-0.15's double EOS)")
        ("skip-bad-records", po::bool_switch(&skip_bad_records), "count and report malformed records instead of stopping");
  }

  TokenizeOptions tokenize_options() const {
    TokenizeOptions t;
    t.max_length = max_length;
    t.max_prompt_length = max_prompt_length;
    std::string mode = length_mode.empty() ? (builder == "let-me-explain" && pairs.empty() ? "filter" : "truncate") : length_mode;
    if (mode == "filter") t.length = LengthPolicy::Filter;
    else if (mode == "truncate") t.length = LengthPolicy::Truncate;
    else throw UsageError("--length-mode must be filter or truncate, got " + mode);
    if (eos == "append-if-missing") t.eos = EosPolicy::AppendIfMissing;
    else if (eos == "trl-0.12") t.eos = EosPolicy::Trl012;
    else throw UsageError("--eos must be append-if-missing or trl-0.12, got " + eos);
    t.validate();
    return t;
  }

  /// Reads one source (a builder's data or a pairs file) and prints its stage counts.
  std::vector<TokenizedPair> read(const std::string& path, const std::string& split_name, bool as_pairs_file,
                                  const Gpt2Tokenizer& tok, index_t vocab_size, const char* label) const {
    ReadOptions ro;
    if (skip_bad_records) ro.bad_records = BadRecords::Skip;
    PairStageReport report;
    std::vector<TokenizedPair> out;
    const TokenizeOptions t = tokenize_options();
    if (as_pairs_file) {
      out = read_pairs_file(hh_rlhf_files(path, split_name), tok, vocab_size, t, report, ro);
    } else {
      JsonlReader reader(hh_rlhf_files(path, split_name), ro);
      BuiltPairs built;
      if (builder == "let-me-explain") built = build_pairs(reader, LetMeExplain{}, report);
      else if (builder == "hh-rlhf") built = build_pairs(reader, HhRlhfPreference{}, report);
      else if (builder == "jsonl") built = build_pairs(reader, JsonlPairs{}, report);
      else throw UsageError("--builder must be let-me-explain, hh-rlhf or jsonl, got " + builder);
      out = tokenize_pairs(tok, built, t, report);
    }
    std::cout << "[" << label << "] ";
    report.print(std::cout);
    for (const auto& p : out)
      for (const std::vector<token_t>* ids : {&p.prompt_ids, &p.chosen_ids, &p.rejected_ids})
        for (token_t id : *ids)
          if (id >= vocab_size)
            throw DataError(path, 0, "token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                                         std::to_string(vocab_size));
    return out;
  }

  /// Training and evaluation pairs.
  void load(const Gpt2Tokenizer& tok, index_t vocab_size, std::uint64_t seed, std::vector<TokenizedPair>& train,
            std::vector<TokenizedPair>& eval) const {
    if (data.empty() == pairs.empty()) throw UsageError("give exactly one of --data and --pairs");
    train = pairs.empty() ? read(data, split, false, tok, vocab_size, "train data")
                          : read(pairs, split, true, tok, vocab_size, "train pairs");
    if (!eval_data.empty()) {
      const bool as_pairs = !pairs.empty();
      eval = read(eval_data, eval_split, as_pairs, tok, vocab_size, "eval data");
    }
    if (eval_fraction > 0) {
      if (eval_fraction >= 1) throw UsageError("--eval-fraction must be in [0, 1)");
      split_off_eval(train, eval, eval_fraction, seed);
      std::cout << "[eval] held out " << eval.size() << " of " << train.size() + eval.size() << " pairs\n";
    }
  }

  /// Moves a seeded, deterministic `fraction` of `train` to the end of `eval` (order of both preserved).
  static void split_off_eval(std::vector<TokenizedPair>& train, std::vector<TokenizedPair>& eval, double fraction,
                             std::uint64_t seed) {
    const auto n_eval = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(train.size())));
    // its own stream: changing the training shuffle never moves the split
    std::vector<TokenizedPair> taken = split_off_random(train, n_eval, seed ^ 0x45564C5350ull);
    eval.insert(eval.end(), std::make_move_iterator(taken.begin()), std::make_move_iterator(taken.end()));
  }
};

/// TrainingConfig's flags.
inline void add_training_config_options(po::options_description& o, TrainingConfig& c, std::string& scheduler,
                                        std::string& save_strategy, std::string& eval_strategy) {
  o.add_options()
      ("output-dir", po::value(&c.output_dir)->required(), "checkpoints, metrics.jsonl, cached reference log-probs, final model")
      ("per-device-train-batch-size", po::value(&c.per_device_train_batch_size)->default_value(c.per_device_train_batch_size), "pairs per micro-batch")
      ("per-device-eval-batch-size", po::value(&c.per_device_eval_batch_size)->default_value(c.per_device_eval_batch_size), "pairs per evaluation batch")
      ("gradient-accumulation-steps", po::value(&c.gradient_accumulation_steps)->default_value(c.gradient_accumulation_steps), "micro-batches per optimizer step")
      ("num-train-epochs", po::value(&c.num_train_epochs)->default_value(c.num_train_epochs), "epochs (fractions allowed)")
      ("max-steps", po::value(&c.max_steps)->default_value(c.max_steps), "optimizer steps; > 0 overrides --num-train-epochs")
      ("learning-rate", po::value(&c.learning_rate)->default_value(c.learning_rate, "5e-05"), "peak learning rate")
      ("lr-scheduler-type", po::value(&scheduler)->default_value(scheduler), "linear, cosine, constant, constant_with_warmup")
      ("warmup-steps", po::value(&c.warmup_steps)->default_value(c.warmup_steps), "linear warm-up steps")
      ("warmup-ratio", po::value(&c.warmup_ratio)->default_value(c.warmup_ratio), "warm-up as a fraction of all steps (when --warmup-steps is 0)")
      ("weight-decay", po::value(&c.weight_decay)->default_value(c.weight_decay), "AdamW decoupled weight decay (not on biases and LayerNorm weights)")
      ("adam-beta1", po::value(&c.adam_beta1)->default_value(c.adam_beta1), "AdamW beta1")
      ("adam-beta2", po::value(&c.adam_beta2)->default_value(c.adam_beta2), "AdamW beta2")
      ("adam-epsilon", po::value(&c.adam_epsilon)->default_value(c.adam_epsilon, "1e-08"), "AdamW epsilon")
      ("max-grad-norm", po::value(&c.max_grad_norm)->default_value(c.max_grad_norm), "global gradient-norm clip (<= 0: none)")
      ("logging-steps", po::value(&c.logging_steps)->default_value(c.logging_steps), "log every N optimizer steps")
      ("save-strategy", po::value(&save_strategy)->default_value(save_strategy), "no, steps or epoch")
      ("save-steps", po::value(&c.save_steps)->default_value(c.save_steps), "checkpoint every N steps (--save-strategy steps)")
      ("save-total-limit", po::value(&c.save_total_limit)->default_value(c.save_total_limit), "keep the last N checkpoints (0: all)")
      ("eval-strategy", po::value(&eval_strategy)->default_value(eval_strategy), "no, steps or epoch (needs eval pairs)")
      ("eval-steps", po::value(&c.eval_steps)->default_value(c.eval_steps), "evaluate every N steps (0: --logging-steps)")
      ("seed", po::value(&c.seed)->default_value(c.seed), "seed of the data order (and of --eval-fraction's split)")
      ("precompute-ref-batch-size", po::value(&c.precompute_ref_batch_size)->default_value(c.precompute_ref_batch_size), "pairs per reference scoring forward")
      ("reshard", "resume a checkpoint saved with another number of ranks (the rest of its epoch is re-sharded)")
      ("no-progress", "no progress bar");
}

inline void finish_training_config(const po::variables_map& vm, TrainingConfig& c, const std::string& scheduler,
                                   const std::string& save_strategy, const std::string& eval_strategy) {
  try {
    c.lr_scheduler_type = parse_lr_scheduler_type(scheduler);
    c.save_strategy = parse_save_strategy(save_strategy);
    c.eval_strategy = parse_save_strategy(eval_strategy);
  } catch (const ArgumentError& e) {
    throw UsageError(e.what());
  }
  if (vm.count("no-progress")) c.progress = false;
  if (vm.count("reshard")) c.reshard_on_resume = true;
}

/// Parses the command line, then --config FILE (same option names, `name = value` lines);
/// the command line wins. Returns false on --help.
inline bool parse_with_config(int argc, char** argv, const std::string& usage, po::options_description& options,
                              po::variables_map& vm) {
  std::string config_file;
  options.add_options()("config", po::value(&config_file), "read further options from this file (`name = value` per line)");
  options.add_options()("help,h", "show this help and exit");
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << options << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw UsageError("--config: cannot open " + path);
      po::store(po::parse_config_file(in, options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace prefopt::cli
