// SPDX-License-Identifier: MIT
// Prints a GPT-2 configuration and its parameter count, for a preset or a Hugging Face model
// directory:   gpt2_info --config 124m      gpt2_info --model DIR [--tensors]
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/model/parameter_table.hpp"

namespace po = boost::program_options;
using namespace prefopt;

namespace {
std::string with_commas(index_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  std::string preset = "124m", model_dir;
  po::options_description opts("gpt2_info options");
  opts.add_options()("help", "show this help")
      ("config", po::value(&preset)->default_value(preset), "preset: 124m or small")
      ("model", po::value(&model_dir), "a Hugging Face model directory (reads its config.json)")
      ("tensors", "list every parameter tensor with its shape");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    Gpt2Config c;
    if (!model_dir.empty()) c = load_hf_config(model_dir);
    else if (preset == "124m") c = Gpt2Config::gpt2_124m();
    else if (preset == "small") c = Gpt2Config::small();
    else throw ArgumentError("--config must be 124m or small, got " + preset);
    const ParameterTable table(c);
    std::printf("GPT-2: n_layer=%lld n_head=%lld n_embd=%lld n_positions=%lld vocab_size=%lld\n",
                static_cast<long long>(c.n_layer), static_cast<long long>(c.n_head),
                static_cast<long long>(c.n_embd), static_cast<long long>(c.n_positions),
                static_cast<long long>(c.vocab_size));
    std::printf("parameters: %s\n", with_commas(table.total_size()).c_str());
    if (vm.count("tensors"))
      for (const auto& e : table.entries()) {
        std::string shape;
        for (index_t d : e.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
        std::printf("  %-28s [%s]\n", e.name.c_str(), shape.c_str());
      }
  } catch (const std::exception& e) {
    std::cerr << "gpt2_info: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
