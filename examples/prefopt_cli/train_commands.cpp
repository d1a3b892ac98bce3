// SPDX-License-Identifier: MIT
// prefopt sft / prefopt dpo: the trainer on the CPU device, with TRL-named flags. The loss is
// chosen at run time by a switch over compile-time loss policies (GUIDE §4): each case is its own
// Trainer instantiation, with no virtual call in the training loop.
#include <iostream>
#include <optional>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "training.hpp"

namespace prefopt::cli {
namespace {

struct RunFlags {
  std::string model, ref, tokenizer = default_tokenizer_dir(), resume;
  bool precompute = true;
  DataFlags data;
  TrainingConfig config;
  std::string scheduler = "linear", save_strategy = "steps", eval_strategy = "no";
};

void add_run_options(po::options_description& o, RunFlags& f) {
  o.add_options()
      ("model", po::value(&f.model)->required(), "the policy to train: a Hugging Face GPT-2 directory (config.json + model.safetensors)")
      ("tokenizer", po::value(&f.tokenizer)->default_value(f.tokenizer), "GPT-2 tokenizer directory when --model has no tokenizer files")
      ("resume", po::value(&f.resume)->implicit_value("<output-dir>"),
       "continue from a checkpoint directory, or (no value) from the latest checkpoint in --output-dir");
  f.data.add(o);
  add_training_config_options(o, f.config, f.scheduler, f.save_strategy, f.eval_strategy);
}

void print_result(const TrainResult& r) {
  std::cout << "[train] " << r.global_step << " steps in " << format_duration(r.seconds) << " ("
            << (r.seconds > 0 ? r.tokens / r.seconds : 0) << " tokens/s); final model in " << r.final_model.string() << "\n";
  if (!r.last_log.empty()) std::cout << "[train] last log: " << r.last_log.dump() << "\n";
  if (!r.last_eval.empty()) std::cout << "[train] last eval: " << r.last_eval.dump() << "\n";
}

template <class Loss>
int run_training(RunFlags& f, const Loss& loss, std::vector<TokenizedPair> train, std::vector<TokenizedPair> eval,
                 const std::string& tokenizer_dir) {
  auto policy = load_pretrained<CpuModel>(f.model);
  std::cout << "[model] " << f.model << ": " << policy->num_parameters() << " parameters\n";
  CliComm& comm = communicator();
  Trainer<CpuModel, Loss, void, CliComm> trainer(*policy, loss, f.config, std::move(train), std::move(eval), comm);
  if (comm.world_size() > 1)
    std::cout << "[train] data parallel over " << comm.world_size() << " ranks: global batch "
              << f.config.per_device_train_batch_size << " x " << f.config.gradient_accumulation_steps << " x "
              << comm.world_size() << " = "
              << f.config.per_device_train_batch_size * f.config.gradient_accumulation_steps * comm.world_size()
              << " pairs per step\n";
  trainer.set_tokenizer_dir(tokenizer_dir);
  std::cout << "[train] " << Loss::name << ": " << trainer.train_pairs().size() << " pairs, "
            << trainer.steps_per_epoch() << " steps per epoch, " << trainer.total_steps() << " steps\n";
  std::unique_ptr<CpuModel> reference;
  if constexpr (Loss::needs_reference) {
    const std::string ref_dir = f.ref.empty() ? f.model : f.ref;
    reference = load_pretrained<CpuModel>(ref_dir, GradientMemory::none);
    if (f.precompute) {
      trainer.precompute_reference(*reference);
      reference.reset();  // the numbers are cached; the weights are not needed any more
    } else {
      trainer.use_reference_model(*reference);
    }
  }
  const std::string resume = f.resume == "<output-dir>" ? f.config.output_dir : f.resume;
  print_result(trainer.train(resume));
  return 0;
}

std::string resolve_tokenizer(const RunFlags& f) { return tokenizer_dir_for(f.model, f.tokenizer); }

}  // namespace

int dpo_command(int argc, char** argv) {
  RunFlags f;
  f.config.learning_rate = 1e-6;  // TRL DPOConfig's default
  std::string loss_type = "dpo";
  double beta = -1, label_smoothing = 0, rpo_alpha = 0, simpo_gamma = 0.5, slic_delta = 1.0, slic_lambda = 0.1;
  po::options_description options("prefopt dpo options");
  add_run_options(options, f);
  options.add_options()
      ("ref", po::value(&f.ref), "reference model directory (default: --model, i.e. the initial policy)")
      ("loss-type", po::value(&loss_type)->default_value(loss_type), "dpo (alias sigmoid), ipo, hinge, slic, simpo, orpo")
      ("beta", po::value(&beta), "β of dpo/ipo/hinge/simpo, λ of orpo (default 0.1, TRL's)")
      ("label-smoothing", po::value(&label_smoothing)->default_value(label_smoothing), "dpo: cDPO's ε")
      ("rpo-alpha", po::value(&rpo_alpha)->default_value(rpo_alpha), "dpo: weight of the chosen NLL (RPO; TRL's rpo_alpha)")
      ("simpo-gamma", po::value(&simpo_gamma)->default_value(simpo_gamma), "simpo: target margin γ")
      ("slic-delta", po::value(&slic_delta)->default_value(slic_delta), "slic: margin δ")
      ("slic-lambda", po::value(&slic_lambda)->default_value(slic_lambda), "slic: weight λ of the chosen NLL")
      ("precompute-ref-log-probs", po::value(&f.precompute)->default_value(true),
       "true: score the reference once before training and free it (cached in --output-dir); false: keep a frozen reference model");
  po::variables_map vm;
  if (!parse_with_config(argc, argv,
                         "usage: prefopt dpo --model DIR --output-dir DIR (--data PATH | --pairs FILE) [--loss-type dpo] [--beta 0.1] ...",
                         options, vm))
    return 0;
  finish_training_config(vm, f.config, f.scheduler, f.save_strategy, f.eval_strategy);
  if (loss_type == "sigmoid") loss_type = "dpo";

  const std::string tok_dir = resolve_tokenizer(f);
  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tok_dir);
  const Gpt2Config model_config = load_hf_config(f.model);
  std::vector<TokenizedPair> train, eval;
  f.data.load(tokenizer, model_config.vocab_size, f.config.seed, train, eval);
  const double b = beta > 0 ? beta : 0.1;
  if (loss_type == "dpo") return run_training(f, loss::Dpo{b, label_smoothing, rpo_alpha}, std::move(train), std::move(eval), tok_dir);
  if (loss_type == "ipo") return run_training(f, loss::Ipo{b}, std::move(train), std::move(eval), tok_dir);
  if (loss_type == "hinge") return run_training(f, loss::Hinge{b}, std::move(train), std::move(eval), tok_dir);
  if (loss_type == "slic") return run_training(f, loss::Slic{slic_delta, slic_lambda}, std::move(train), std::move(eval), tok_dir);
  if (loss_type == "simpo") return run_training(f, loss::SimPo{b, simpo_gamma}, std::move(train), std::move(eval), tok_dir);
  if (loss_type == "orpo") return run_training(f, loss::Orpo{b}, std::move(train), std::move(eval), tok_dir);
  throw UsageError("--loss-type must be one of dpo, ipo, hinge, slic, simpo, orpo; got " + loss_type);
}

int sft_command(int argc, char** argv) {
  RunFlags f;
  f.config.learning_rate = 2e-5;  // TRL SFTConfig's default
  std::string target = "chosen";
  po::options_description options("prefopt sft options");
  add_run_options(options, f);
  options.add_options()("sft-target", po::value(&target)->default_value(target),
                        "which completion of each pair is the SFT target: chosen or rejected");
  po::variables_map vm;
  if (!parse_with_config(argc, argv, "usage: prefopt sft --model DIR --output-dir DIR (--data PATH | --pairs FILE) ...", options, vm))
    return 0;
  finish_training_config(vm, f.config, f.scheduler, f.save_strategy, f.eval_strategy);
  if (target != "chosen" && target != "rejected") throw UsageError("--sft-target must be chosen or rejected, got " + target);

  const std::string tok_dir = resolve_tokenizer(f);
  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tok_dir);
  const Gpt2Config model_config = load_hf_config(f.model);
  std::vector<TokenizedPair> train, eval;
  f.data.load(tokenizer, model_config.vocab_size, f.config.seed, train, eval);
  if (target == "rejected")
    for (auto* set : {&train, &eval})
      for (auto& p : *set) std::swap(p.chosen_ids, p.rejected_ids);
  return run_training(f, loss::Sft{}, std::move(train), std::move(eval), tok_dir);
}

}  // namespace prefopt::cli
