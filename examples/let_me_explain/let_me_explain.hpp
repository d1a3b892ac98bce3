// SPDX-License-Identifier: MIT
// The "Let me explain" experiment of the seed notebook (../shared/seed/000_bb45ecff21c73357.txt),
// written once as a template over the device and instantiated per device by a small .cpp
// (let_me_explain_cpu.cpp, and let_me_explain_cuda.cu once the CUDA device exists).
//
// What the notebook does, and how each step maps onto prefopt:
//   1. hh-rlhf rows -> single-turn filter -> the seed's pairs        LetMeExplain + tokenize_pairs
//        prompt   "### Question: {q}\n### Answer: "
//        chosen   "Let me explain. {a}<|endoftext|>"   rejected "{a}<|endoftext|>"
//   2. an SFT GPT-2                                                   --model DIR, or made here:
//        a fresh GPT-2-architecture model, SFT-trained on the training pairs' plain answers
//        (prompt + rejected), so it answers in the seed's format but never with "Let me explain"
//   3. DPO against the frozen SFT model                               Trainer<Gpt2<Device>, loss::Dpo, LetMeExplain>
//   4. greedy answers of the SFT and DPO models, side by side         generate() with a KV cache
// plus what the notebook leaves out: a held-out split no training step sees, the success rate of
// both models on it, the held-out reward accuracy, and a plot of the DPO curves.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"
#include "prefopt/data/python_str.hpp"
#include "prefopt/data/random_split.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/io/load_pretrained.hpp"
#include "prefopt/loss/dpo.hpp"
#include "prefopt/loss/sft.hpp"
#include "prefopt/model/generate.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "prefopt/train/metrics_plot.hpp"
#include "prefopt/train/communicator.hpp"
#include "prefopt/train/trainer.hpp"

namespace let_me_explain {

using namespace prefopt;

/// Everything the command line can change. The defaults are the embedded run's: a small model
/// made here, tuned so that the whole experiment takes a few minutes on two CPU cores.
struct Options {
  std::string data;                    // hh-rlhf file or folder (default: the embedded test split)
  std::string split = "train";         // split of an hh-rlhf folder
  std::string model;                   // an HF GPT-2 SFT checkpoint; empty: make one here
  std::string tokenizer;               // GPT-2 tokenizer files (vocab.json, merges.txt)
  std::string out = "let_me_explain_out";
  double held_out_fraction = 0.1;      // pairs kept away from every training step
  std::uint64_t seed = 42;
  // the model made here (GPT-2 architecture, GPT-2's tokenizer)
  index_t n_layer = 4, n_head = 4, n_embd = 128, n_positions = 512;
  double sft_epochs = 4, sft_learning_rate = 1e-3;
  index_t sft_batch_size = 8;
  // DPO: the seed's beta 0.3 and batch 4 x accumulation 4. With --model (a real GPT-2 SFT
  // checkpoint) the seed's lr 1e-5, 1 epoch and plain DPO. The small model made here needs larger
  // steps: lr 1e-3, 2 epochs, and RPO's chosen NLL (rpo_alpha 1) against DPO's likelihood
  // displacement — README "The default run" has the measurements behind these values.
  // A negative value means "the default for this kind of model".
  double beta = 0.3, dpo_learning_rate = -1, dpo_epochs = -1, rpo_alpha = -1;
  index_t dpo_batch_size = 4, gradient_accumulation_steps = 4;
  index_t logging_steps = 10;
  // evaluation
  index_t max_new_tokens = 100;        // the seed's greedy 100 new tokens
  index_t show_held_out = 3;           // held-out answers printed side by side
  bool progress = true;
  bool tf32 = false;  // CUDA build: TF32 GEMMs (set by the CUDA main through set_cuda_gemm_precision)
  bool bf16 = false;  // CUDA build: bfloat16 tensor-core GEMMs (likewise)
};

/// The seed's success test: the answer starts with "Let me explain".
inline bool starts_with_let_me_explain(const std::string& answer) {
  const std::string_view a = python_str::strip(answer);
  return a.substr(0, 14) == "Let me explain";
}

inline std::string clip(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

/// Greedy answers (decoded, without the final EOS) of `model` to tokenized prompts.
template <class Model>
std::vector<std::string> answers(Model& model, const Gpt2Tokenizer& tok, const std::vector<std::vector<token_t>>& prompts,
                                 index_t max_new_tokens) {
  GenerationConfig g;
  g.max_new_tokens = max_new_tokens;
  g.greedy = true;
  g.eos_token_id = tok.eos_token_id();
  std::vector<std::string> out;
  constexpr std::size_t chunk = 16;  // prompts per generate() call
  for (std::size_t first = 0; first < prompts.size(); first += chunk) {
    const std::vector<std::vector<token_t>> some(prompts.begin() + static_cast<std::ptrdiff_t>(first),
                                                 prompts.begin() + static_cast<std::ptrdiff_t>(std::min(prompts.size(), first + chunk)));
    for (auto ids : generate(model, some, g)) {
      if (!ids.empty() && ids.back() == tok.eos_token_id()) ids.pop_back();
      out.push_back(tok.decode(ids));
    }
  }
  return out;
}

/// Runs the experiment; returns the process exit status. Under mpirun (Comm = MpiComm/NcclComm)
/// every rank reads the data and trains its shard of each step; rank 0 writes the models, then
/// generates and scores the answers alone while the other ranks finish.
template <class Device, class Comm = NoComm>
int run(const Options& o, Comm comm = {}) {
  using Model = Gpt2<Device, float>;
  namespace fs = std::filesystem;
  const fs::path out = o.out;
  fs::create_directories(out);
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(o.tokenizer);

  // ---- 1. Data: the seed's filters and templates, with its counts ------------------------------
  std::cout << "== 1. data: " << o.data << "\n";
  PairStageReport report;
  TokenizeOptions topts;  // the seed: drop pairs over 256 prompt / 512 prompt+chosen tokens
  topts.max_prompt_length = 256;
  topts.max_length = 512;
  topts.length = LengthPolicy::Filter;
  std::vector<TokenizedPair> all =
      Trainer<Model, loss::Dpo, LetMeExplain, Comm>::prepare_pairs(o.data, o.split, tok, topts, report);
  std::cout << "original rows:             " << report.rows_read() << "\n"
            << "after single-turn filter:  " << report.single_turn() << "\n"
            << "pairs built:               " << report.pairs_built << "\n"
            << "after length filter:       " << all.size() << "\n";
  if (all.size() < 10) throw DataError(o.data, 0, "only " + std::to_string(all.size()) + " pairs; the experiment needs at least 10");
  std::cout << "sample prompt:   " << tok.decode(all[0].prompt_ids) << "\n"
            << "sample chosen:   " << clip(tok.decode(all[0].chosen_ids), 100) << "\n"
            << "sample rejected: " << clip(tok.decode(all[0].rejected_ids), 100) << "\n";

  // A seeded, deterministic held-out split: no SFT or DPO step ever sees these prompts.
  const std::size_t n_pairs = all.size();
  const auto n_held = static_cast<std::size_t>(std::max(1.0, o.held_out_fraction * static_cast<double>(n_pairs)));
  std::vector<TokenizedPair> train = std::move(all);
  const std::vector<TokenizedPair> held_out = split_off_random(train, n_held, o.seed ^ 0x48454C44ull);
  std::cout << "training pairs " << train.size() << ", held-out pairs " << held_out.size() << "\n";

  // ---- 2. The SFT model -----------------------------------------------------------------------
  fs::path sft_dir = o.model;
  if (sft_dir.empty()) {
    sft_dir = out / "sft_model";
    std::cout << "\n== 2. SFT model: a fresh GPT-2 (" << o.n_layer << " layers, " << o.n_head << " heads, " << o.n_embd
              << " wide) trained on the training pairs' plain answers\n";
    Gpt2Config c;
    c.n_layer = o.n_layer, c.n_head = o.n_head, c.n_embd = o.n_embd, c.n_positions = o.n_positions;
    c.validate();
    Model model(c);
    model.init_random(o.seed);
    std::vector<TokenizedPair> sft_pairs = train;
    for (auto& p : sft_pairs) p.chosen_ids = p.rejected_ids;  // the answer without "Let me explain."
    TrainingConfig t;
    t.output_dir = (out / "sft_run").string();
    t.per_device_train_batch_size = o.sft_batch_size;
    t.num_train_epochs = o.sft_epochs;
    t.learning_rate = o.sft_learning_rate;
    t.warmup_ratio = 0.05;
    t.logging_steps = o.logging_steps;
    t.save_strategy = SaveStrategy::No;
    t.seed = o.seed;
    t.progress = o.progress;
    Trainer<Model, loss::Sft, LetMeExplain, Comm> sft(model, loss::Sft{}, t, sft_pairs, {}, comm);
    sft.set_tokenizer_dir(o.tokenizer);
    const TrainResult r = sft.train();
    if (comm.rank() == 0) sft.save_model(sft_dir);
    comm.barrier();  // every rank loads it next
    std::cout << "SFT done: " << r.global_step << " steps, final loss " << r.last_log.value("loss", 0.0) << "\n";
  } else {
    std::cout << "\n== 2. SFT model: " << sft_dir.string() << "\n";
  }
  auto policy = load_pretrained<Model>(sft_dir);
  std::cout << "parameters: " << policy->num_parameters() << "\n";

  // ---- 3. DPO ---------------------------------------------------------------------------------
  const bool made_here = o.model.empty();
  const double lr = o.dpo_learning_rate > 0 ? o.dpo_learning_rate : (made_here ? 1e-3 : 1e-5);
  const double epochs = o.dpo_epochs > 0 ? o.dpo_epochs : (made_here ? 2.0 : 1.0);
  const double rpo_alpha = o.rpo_alpha >= 0 ? o.rpo_alpha : (made_here ? 1.0 : 0.0);
  std::cout << "\n== 3. DPO: beta " << o.beta << ", lr " << lr << ", rpo_alpha " << rpo_alpha << ", batch "
            << o.dpo_batch_size << " x accumulation " << o.gradient_accumulation_steps << ", " << epochs << " epoch(s)\n";
  TrainingConfig t;
  t.output_dir = (out / "dpo_run").string();
  t.per_device_train_batch_size = o.dpo_batch_size;
  t.per_device_eval_batch_size = 16;
  t.gradient_accumulation_steps = o.gradient_accumulation_steps;
  t.num_train_epochs = epochs;
  t.learning_rate = lr;
  t.logging_steps = std::max<index_t>(1, o.logging_steps / 2);
  t.eval_strategy = SaveStrategy::Steps;
  t.eval_steps = o.logging_steps;
  t.save_strategy = SaveStrategy::Epoch;
  t.save_total_limit = 1;
  t.seed = o.seed;
  t.progress = o.progress;
  if (comm.world_size() > 1)
    std::cout << "data parallel over " << comm.world_size() << " ranks (" << Comm::name << "): global batch "
              << o.dpo_batch_size * o.gradient_accumulation_steps * comm.world_size() << " pairs per step\n";
  Trainer<Model, loss::Dpo, LetMeExplain, Comm> dpo(*policy, loss::Dpo{o.beta, 0.0, rpo_alpha}, t, train, held_out, comm);
  dpo.set_tokenizer_dir(o.tokenizer);
  {
    auto reference = load_pretrained<Model>(sft_dir, GradientMemory::none);
    dpo.precompute_reference(*reference);
  }  // the reference's weights are freed here; its log-probs are cached in dpo_run/
  const TrainResult r = dpo.train();
  const fs::path dpo_dir = out / "dpo_model";
  if (comm.rank() != 0) return 0;  // the rest (saving, generation, scoring) is rank 0's
  dpo.save_model(dpo_dir);
  std::cout << "DPO done: " << r.global_step << " steps in " << format_duration(r.seconds) << ", final loss "
            << r.last_log.value("loss", 0.0) << "\nsaved to " << dpo_dir.string() << "\n";
  const double held_out_accuracy = r.last_eval.value("eval_rewards/accuracies", 0.0);
  plot_metrics(fs::path(t.output_dir) / "metrics.jsonl", out / "dpo_curves.svg", "DPO on hh-rlhf \"Let me explain\" pairs");

  // ---- 4. Evaluation: greedy answers, side by side ---------------------------------------------
  std::cout << "\n== 4. evaluation: greedy, " << o.max_new_tokens << " new tokens\n";
  const std::vector<std::string> questions = {"What is machine learning?", "Explain the artificial intelligence"};
  std::vector<std::vector<token_t>> prompts;
  for (const auto& q : questions) prompts.push_back(tok.encode("### Question: " + q + "\n### Answer: "));
  for (const auto& p : held_out) prompts.push_back(p.prompt_ids);
  auto sft_model = load_pretrained<Model>(sft_dir, GradientMemory::none);
  const std::vector<std::string> sft_answers = answers(*sft_model, tok, prompts, o.max_new_tokens);
  sft_model.reset();
  const std::vector<std::string> dpo_answers = answers(*policy, tok, prompts, o.max_new_tokens);

  auto show = [&](std::size_t i, const std::string& question) {
    std::cout << std::string(60, '=') << "\n[question] " << question << "\n\n[SFT model]\n" << clip(sft_answers[i], 150)
              << "\n\n[DPO model]\n" << clip(dpo_answers[i], 150) << "\n\nstarts with 'Let me explain': SFT "
              << (starts_with_let_me_explain(sft_answers[i]) ? "yes" : "no") << ", DPO "
              << (starts_with_let_me_explain(dpo_answers[i]) ? "yes" : "no") << "\n";
  };
  for (std::size_t i = 0; i < questions.size(); ++i) show(i, questions[i]);
  for (std::size_t k = 0; k < std::min<std::size_t>(static_cast<std::size_t>(o.show_held_out), held_out.size()); ++k)
    show(questions.size() + k, "(held out) " + std::string(python_str::strip(tok.decode(held_out[k].prompt_ids))));
  std::cout << std::string(60, '=') << "\n";

  std::size_t sft_hits = 0, dpo_hits = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t k = 0; k < held_out.size(); ++k) {
    const std::size_t i = questions.size() + k;
    const bool s = starts_with_let_me_explain(sft_answers[i]), d = starts_with_let_me_explain(dpo_answers[i]);
    sft_hits += s, dpo_hits += d;
    rows.push_back({{"prompt", tok.decode(held_out[k].prompt_ids)}, {"sft", sft_answers[i]}, {"dpo", dpo_answers[i]},
                    {"sft_starts_with_let_me_explain", s}, {"dpo_starts_with_let_me_explain", d}});
  }
  const double n = static_cast<double>(held_out.size());
  const double sft_rate = static_cast<double>(sft_hits) / n, dpo_rate = static_cast<double>(dpo_hits) / n;
  std::cout << std::fixed << std::setprecision(3) << "held-out prompts: " << held_out.size() << "\n"
            << "  answers starting with 'Let me explain': SFT " << sft_rate << " (" << sft_hits << "), DPO " << dpo_rate
            << " (" << dpo_hits << ")\n"
            << "  held-out reward accuracy (DPO vs SFT reference): " << held_out_accuracy << "\n"
            << "curves: " << (out / "dpo_curves.svg").string() << "\n";
  std::cout.unsetf(std::ios::fixed);

  nlohmann::ordered_json summary;
  summary["pairs"] = n_pairs;
  summary["train_pairs"] = train.size();
  summary["held_out_pairs"] = held_out.size();
  summary["parameters"] = policy->num_parameters();
  summary["dpo_steps"] = r.global_step;
  summary["dpo_seconds"] = r.seconds;
  summary["sft_success_rate"] = sft_rate;
  summary["dpo_success_rate"] = dpo_rate;
  summary["held_out_reward_accuracy"] = held_out_accuracy;
  summary["final_train_log"] = r.last_log;
  summary["final_eval"] = r.last_eval;
  summary["seed_questions"] = nlohmann::json::array();
  for (std::size_t i = 0; i < questions.size(); ++i)
    summary["seed_questions"].push_back({{"question", questions[i]}, {"sft", sft_answers[i]}, {"dpo", dpo_answers[i]}});
  summary["held_out"] = rows;
  write_file_atomically(out / "results.json", summary.dump(2) + "\n");
  std::cout << "results: " << (out / "results.json").string() << "\n";
  return 0;
}

}  // namespace let_me_explain
