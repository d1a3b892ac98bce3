// SPDX-License-Identifier: MIT
// prefopt generate: completions of one or more prompts with a key/value cache (Hugging Face's
// generate(): sampling with temperature / top-k / top-p, or --greedy), stopping at the model's
// eos_token_id or after --max-new-tokens.
//
// Output: a single prompt prints its completion as plain text (the final EOS not decoded);
// several prompts, or --json, print one JSON string per line in prompt order; --ids prints each
// prompt's new token ids (the EOS, when produced, included) as a JSON array per line.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "prefopt/model/generate.hpp"
#include "training.hpp"

namespace prefopt::cli {
namespace {

std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path, 0, "cannot open the prompts file");
  std::vector<std::string> prompts;
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines separate nothing
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw DataError(path, number, std::string("not valid JSON: ") + e.what());
    }
    if (!value.is_string())
      throw DataError(path, number, "expected a JSON string (one prompt per line), found " + std::string(value.type_name()));
    prompts.push_back(value.get<std::string>());
  }
  if (prompts.empty()) throw DataError(path, number, "no prompts in the file");
  return prompts;
}

}  // namespace

int generate_command(int argc, char** argv) {
  std::string model_dir, tokenizer = default_tokenizer_dir(), prompts_file;
  std::vector<std::string> prompts;
  GenerationConfig g;
  index_t batch_size = 8;
  po::options_description options("prefopt generate options");
  options.add_options()
      ("model", po::value(&model_dir)->required(), "model directory (Hugging Face GPT-2 layout)")
      ("prompt", po::value(&prompts)->composing(), "a prompt (repeatable)")
      ("prompts-file", po::value(&prompts_file), "more prompts: one JSON string per line")
      ("tokenizer", po::value(&tokenizer)->default_value(tokenizer), "GPT-2 tokenizer when --model has none")
      ("max-new-tokens", po::value(&g.max_new_tokens)->default_value(g.max_new_tokens), "new tokens per prompt at most (EOS included)")
      ("greedy", po::bool_switch(), "greedy decoding (the argmax) instead of sampling")
      ("temperature", po::value(&g.temperature)->default_value(g.temperature), "sampling: divide the logits by T")
      ("top-k", po::value(&g.top_k)->default_value(g.top_k), "sampling: keep the K most likely tokens (0: all)")
      ("top-p", po::value(&g.top_p)->default_value(g.top_p), "sampling: nucleus, the smallest set with probability >= P")
      ("seed", po::value(&g.seed)->default_value(g.seed), "sampling: seed (prompt i draws from its own stream)")
      ("batch-size", po::value(&batch_size)->default_value(batch_size), "prompts generated together")
      ("ids", po::bool_switch(), "print the new token ids as a JSON array per prompt")
      ("json", po::bool_switch(), "print each completion as a JSON string, even for a single prompt");
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: prefopt generate --model DIR --prompt TEXT [--prompt TEXT ...] [--prompts-file FILE]\n"
                     "                        [--max-new-tokens 100] [--greedy | --temperature T --top-k K --top-p P --seed S]\n"
                     "                        [--ids] [--json]\n"
                     "Samples by default (temperature 1, no top-k / top-p); --greedy takes the argmax.",
                     options, vm))
    return 0;
  g.greedy = vm["greedy"].as<bool>();
  if (g.greedy)
    for (const char* flag : {"temperature", "top-k", "top-p", "seed"})
      if (!vm[flag].defaulted()) throw UsageError(std::string("--greedy does not sample: drop --") + flag);
  if (!prompts_file.empty())
    for (auto& p : read_prompts_file(prompts_file)) prompts.push_back(std::move(p));
  if (prompts.empty()) throw UsageError("give at least one --prompt or a --prompts-file");
  if (batch_size <= 0) throw UsageError("--batch-size must be positive");
  try {
    g.validate();
  } catch (const ArgumentError& e) {
    throw UsageError(e.what());
  }

  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(tokenizer_dir_for(model_dir, tokenizer));
  auto model = load_pretrained<CpuModel>(model_dir, GradientMemory::none);
  g.eos_token_id = model->config().eos_token_id;  // checked against the vocabulary when loaded
  std::vector<std::vector<token_t>> ids;
  for (const auto& p : prompts) ids.push_back(tok.encode(p));

  const bool as_json = vm["json"].as<bool>() || prompts.size() > 1;
  const bool print_ids = vm["ids"].as<bool>();
  for (std::size_t first = 0; first < ids.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t last = std::min(ids.size(), first + static_cast<std::size_t>(batch_size));
    const std::vector<std::vector<token_t>> batch(ids.begin() + static_cast<std::ptrdiff_t>(first),
                                                  ids.begin() + static_cast<std::ptrdiff_t>(last));
    g.first_stream = static_cast<index_t>(first);  // --batch-size never changes a completion
    const std::vector<std::vector<token_t>> out = generate(*model, batch, g);
    for (const auto& o : out) {
      if (print_ids) {
        std::cout << nlohmann::json(o).dump() << "\n";
        continue;
      }
      std::vector<token_t> text_ids = o;
      if (!text_ids.empty() && text_ids.back() == g.eos_token_id) text_ids.pop_back();
      const std::string text = tok.decode(text_ids);
      if (as_json) std::cout << nlohmann::json(text).dump() << "\n";
      else std::cout << text << "\n";
    }
  }
  return 0;
}

}  // namespace prefopt::cli
