// SPDX-License-Identifier: MIT
// prefopt init: a fresh, randomly initialised GPT-2-architecture model as a Hugging Face
// directory (GPT-2's initialisation, seeded), with the tokenizer files beside it.
#include <iostream>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "training.hpp"

namespace prefopt::cli {

int init_command(int argc, char** argv) {
  Gpt2Config c;  // defaults: GPT-2 124M
  std::string out, tokenizer = default_tokenizer_dir();
  std::uint64_t seed = 42;
  po::options_description options("prefopt init options");
  options.add_options()
      ("n-layer", po::value(&c.n_layer)->default_value(c.n_layer), "transformer blocks")
      ("n-head", po::value(&c.n_head)->default_value(c.n_head), "attention heads (must divide --n-embd)")
      ("n-embd", po::value(&c.n_embd)->default_value(c.n_embd), "model width")
      ("n-positions", po::value(&c.n_positions)->default_value(c.n_positions), "longest sequence")
      ("vocab-size", po::value(&c.vocab_size)->default_value(c.vocab_size), "vocabulary (50257 for GPT-2's tokenizer)")
      ("seed", po::value(&seed)->default_value(seed), "initialisation seed")
      ("tokenizer", po::value(&tokenizer)->default_value(tokenizer), "tokenizer files to copy into the model directory ('' for none)")
      ("out", po::value(&out)->required(), "the model directory to write");
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: prefopt init --out DIR [--n-layer 12 --n-head 12 --n-embd 768 --n-positions 1024] [--seed 42]",
                     options, vm))
    return 0;
  try {
    c.validate();
  } catch (const ArgumentError& e) {
    throw UsageError(e.what());
  }
  CpuModel model(c);
  model.init_random(seed);
  std::vector<float> host(static_cast<std::size_t>(model.num_parameters()));
  model.get_parameters(host.data());
  save_hf_checkpoint(out, model.parameter_table(), host.data(), tokenizer);
  std::cout << "wrote a GPT-2 model with " << model.num_parameters() << " parameters (n_layer " << c.n_layer << ", n_head "
            << c.n_head << ", n_embd " << c.n_embd << ", n_positions " << c.n_positions << ", vocab " << c.vocab_size
            << ", seed " << seed << ") to " << out << "\n";
  return 0;
}

}  // namespace prefopt::cli
