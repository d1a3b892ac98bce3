// SPDX-License-Identifier: MIT
// The let_me_explain programs' command line, shared by the CPU and the CUDA main: parses the
// options (defaults from Options), then runs the experiment on Device with communicator `comm`
// (NoComm, or an MPI/NCCL one under mpirun). `device_ready(options)` runs after parsing and before
// the experiment (it checks for the device and applies device options such as --tf32 and --bf16); a non-zero
// result is returned as the exit status. Errors are thrown to the caller
// (a distributed main turns them into an abort of the whole job).
#pragma once

#include <boost/program_options.hpp>

#include <exception>
#include <iostream>
#include <utility>

#include "let_me_explain.hpp"

namespace let_me_explain {

template <class Device, class Comm, class DeviceReady>
int main_with(int argc, char** argv, DeviceReady&& device_ready, Comm comm) {
  namespace po = boost::program_options;
  Options o;
  o.data = PREFOPT_EMBEDDED_DATA;
  o.tokenizer = PREFOPT_DEFAULT_TOKENIZER;
  po::options_description options("let_me_explain: the seed notebook's DPO experiment, end to end");
  options.add_options()
      ("help,h", "show this help and exit")
      ("data", po::value(&o.data)->default_value(o.data), "hh-rlhf data: a .jsonl(.gz) file or an hh-rlhf folder")
      ("split", po::value(&o.split)->default_value(o.split), "split to read from an hh-rlhf folder")
      ("model", po::value(&o.model), "an HF GPT-2 SFT checkpoint (e.g. the real gpt2); default: make a small one here")
      ("tokenizer", po::value(&o.tokenizer)->default_value(o.tokenizer), "GPT-2 tokenizer directory")
      ("out", po::value(&o.out)->default_value(o.out), "output directory")
      ("held-out-fraction", po::value(&o.held_out_fraction)->default_value(o.held_out_fraction), "pairs held out of all training")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the split, the initialisation and the data order")
      ("n-layer", po::value(&o.n_layer)->default_value(o.n_layer), "the model made here: blocks")
      ("n-head", po::value(&o.n_head)->default_value(o.n_head), "the model made here: heads")
      ("n-embd", po::value(&o.n_embd)->default_value(o.n_embd), "the model made here: width")
      ("sft-epochs", po::value(&o.sft_epochs)->default_value(o.sft_epochs), "SFT epochs of the model made here")
      ("sft-learning-rate", po::value(&o.sft_learning_rate)->default_value(o.sft_learning_rate), "SFT learning rate")
      ("sft-batch-size", po::value(&o.sft_batch_size)->default_value(o.sft_batch_size), "SFT pairs per micro-batch, per rank")
      ("beta", po::value(&o.beta)->default_value(o.beta), "DPO beta (the seed's 0.3)")
      ("learning-rate", po::value(&o.dpo_learning_rate), "DPO learning rate (default 1e-5 with --model, as the seed; 1e-3 for the model made here)")
      ("rpo-alpha", po::value(&o.rpo_alpha), "weight of the chosen NLL added to DPO (TRL's rpo_alpha; default 1 for the model made here, 0 with --model)")
      ("num-train-epochs", po::value(&o.dpo_epochs), "DPO epochs (default 1 with --model, as the seed; 2 for the model made here)")
      ("per-device-train-batch-size", po::value(&o.dpo_batch_size)->default_value(o.dpo_batch_size), "DPO pairs per micro-batch, per rank (global batch: x accumulation x ranks)")
      ("gradient-accumulation-steps", po::value(&o.gradient_accumulation_steps)->default_value(o.gradient_accumulation_steps), "DPO accumulation")
      ("logging-steps", po::value(&o.logging_steps)->default_value(o.logging_steps), "log every N steps")
      ("max-new-tokens", po::value(&o.max_new_tokens)->default_value(o.max_new_tokens), "greedy answer length")
      ("tf32", "CUDA build: TF32 tensor-core matrix products (Hugging Face's tf32=True); the CPU build refuses it")
      ("bf16", "CUDA build: bfloat16 tensor-core matrix products with float weights, accumulation and other kernels (the GEMM half of Hugging Face's bf16=True); the CPU build refuses it")
      ("no-progress", "no progress bars");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options << "\n";
      return 0;
    }
    po::notify(vm);
    if (vm.count("no-progress")) o.progress = false;
    o.tf32 = vm.count("tf32") > 0;
    o.bf16 = vm.count("bf16") > 0;
    if (o.tf32 && o.bf16) {
      std::cerr << "let_me_explain: --tf32 and --bf16 both set the matrix-product precision: choose one\n";
      return 2;
    }
    if (const int status = device_ready(o); status != 0) return status;
    return run<Device>(o, std::move(comm));
  } catch (const po::error& e) {
    std::cerr << "let_me_explain: " << e.what() << " (see --help)\n";
    return 2;
  }
}

}  // namespace let_me_explain
