// SPDX-License-Identifier: MIT
// prefopt tokenize: GPT-2 BPE over standard input, one JSON value per line.
//   encode (default): each line is a JSON string, each output line the JSON array of its ids
//   --decode:         each line is a JSON array of ids, each output line the decoded JSON string
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "prefopt/core/error.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"

namespace prefopt::cli {

int tokenize_command(int argc, char** argv) {
  std::string tokenizer_dir = default_tokenizer_dir();
  po::options_description options("prefopt tokenize options");
  options.add_options()
      ("tokenizer", po::value(&tokenizer_dir)->default_value(tokenizer_dir),
       "directory with vocab.json + merges.txt, or tokenizer.json")
      ("decode", "decode: read JSON arrays of ids, write JSON strings");
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: prefopt tokenize [--tokenizer DIR] [--decode] < lines\n"
                     "Each input line is a JSON string (or, with --decode, a JSON array of ids);\n"
                     "each output line is the JSON array of token ids (or the decoded string).",
                     options, vm))
    return 0;
  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tokenizer_dir);
  const bool decode = vm.count("decode") > 0;
  std::ios::sync_with_stdio(false);
  std::string line;
  std::vector<token_t> ids;
  long line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw DataError("<stdin>", line_number, std::string("not valid JSON: ") + e.what());
    }
    if (decode) {
      if (!value.is_array())
        throw DataError("<stdin>", line_number, "expected a JSON array of token ids");
      ids.clear();
      for (const auto& v : value) {
        if (!v.is_number_integer())
          throw DataError("<stdin>", line_number, "expected integer token ids, found " + v.dump());
        const auto id = v.get<long long>();
        if (id < 0 || id >= tokenizer.vocab_size())
          throw DataError("<stdin>", line_number,
                          "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(tokenizer.vocab_size()) + ")");
        ids.push_back(static_cast<token_t>(id));
      }
      std::cout << nlohmann::json(tokenizer.decode(ids)).dump() << '\n';
    } else {
      if (!value.is_string())
        throw DataError("<stdin>", line_number, "expected a JSON string, found " + std::string(value.type_name()));
      std::cout << nlohmann::json(tokenizer.encode(value.get_ref<const std::string&>())).dump() << '\n';
    }
  }
  return 0;
}

}  // namespace prefopt::cli
