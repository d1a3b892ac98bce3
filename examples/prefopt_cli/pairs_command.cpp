// SPDX-License-Identifier: MIT
// prefopt pairs: the data stages of a preference run on their own — read hh-rlhf / JSONL, build
// text pairs with a pair builder, tokenize them as TRL 0.12-0.15 does, apply the length rules —
// printing the count after every stage (the seed notebook's figures) and, with --out, writing the
// tokenized pairs as JSONL: {"prompt_ids": [...], "chosen_ids": [...], "rejected_ids": [...], "source": "file:line"}.
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "prefopt/data/hh_rlhf_files.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/tokenizer/gpt2_bpe.hpp"

namespace prefopt::cli {
namespace {

template <class Builder>
BuiltPairs build_with(JsonlReader& reader, PairStageReport& report) {
  return build_pairs(reader, Builder{}, report);
}

}  // namespace

int pairs_command(int argc, char** argv) {
  std::string builder = "let-me-explain", data, split = "train", tokenizer_dir = default_tokenizer_dir(), out;
  std::string length_mode, eos_mode = "append-if-missing";
  index_t max_length = 512, max_prompt_length = 256;
  po::options_description options("prefopt pairs options");
  options.add_options()
      ("builder", po::value(&builder)->default_value(builder),
       "pair builder: let-me-explain (the seed's rules), hh-rlhf (hh-rlhf's own chosen/rejected), "
       "jsonl (explicit prompt/chosen/rejected fields)")
      ("data", po::value(&data)->required(), "a JSONL or JSONL.gz file, or an hh-rlhf folder (subsets with <split>.jsonl.gz)")
      ("split", po::value(&split)->default_value(split), "split to read from an hh-rlhf folder")
      ("tokenizer", po::value(&tokenizer_dir)->default_value(tokenizer_dir), "GPT-2 tokenizer directory")
      ("max-length", po::value(&max_length)->default_value(max_length), "max tokens of prompt + completion")
      ("max-prompt-length", po::value(&max_prompt_length)->default_value(max_prompt_length), "max prompt tokens")
      ("length-mode", po::value(&length_mode),
       "filter: drop over-long pairs (the seed's; default for let-me-explain); truncate: keep the prompt's "
       "last tokens and cut completions on the right (TRL's; default otherwise)")
      ("eos", po::value(&eos_mode)->default_value(eos_mode),
       "append-if-missing, or trl-0.12: always append EOS (TRL 0.12-0.15's double EOS)")
      ("skip-bad-records", "count and report malformed records instead of stopping at the first")
      ("out", po::value(&out), "write the tokenized pairs here as JSONL");
  po::variables_map vm;
  if (!parse_options(argc, argv,
                     "usage: prefopt pairs --data PATH [--builder let-me-explain|hh-rlhf|jsonl] [--tokenizer DIR]\n"
                     "                     [--max-length 512 --max-prompt-length 256] [--out FILE]",
                     options, vm))
    return 0;

  TokenizeOptions topts;
  topts.max_length = max_length;
  topts.max_prompt_length = max_prompt_length;
  if (length_mode.empty()) length_mode = builder == "let-me-explain" ? "filter" : "truncate";
  if (length_mode == "filter") topts.length = LengthPolicy::Filter;
  else if (length_mode == "truncate") topts.length = LengthPolicy::Truncate;
  else throw UsageError("--length-mode must be filter or truncate, got " + length_mode);
  if (eos_mode == "append-if-missing") topts.eos = EosPolicy::AppendIfMissing;
  else if (eos_mode == "trl-0.12") topts.eos = EosPolicy::Trl012;
  else throw UsageError("--eos must be append-if-missing or trl-0.12, got " + eos_mode);
  topts.validate();

  ReadOptions ropts;
  if (vm.count("skip-bad-records")) ropts.bad_records = BadRecords::Skip;
  JsonlReader reader(hh_rlhf_files(data, split), ropts);
  PairStageReport report;
  BuiltPairs built;
  if (builder == "let-me-explain") built = build_with<LetMeExplain>(reader, report);
  else if (builder == "hh-rlhf") built = build_with<HhRlhfPreference>(reader, report);
  else if (builder == "jsonl") built = build_with<JsonlPairs>(reader, report);
  else throw UsageError("--builder must be let-me-explain, hh-rlhf or jsonl, got " + builder);

  const Gpt2Tokenizer tokenizer = Gpt2Tokenizer::from_directory(tokenizer_dir);
  // tokenize_pairs keeps pairs in order; rerun the per-pair call to know which source each came from.
  std::vector<TokenizedPair> pairs;
  std::vector<std::string> sources;
  report.tokenize_options = topts;
  for (std::size_t i = 0; i < built.pairs.size(); ++i) {
    auto ids = tokenize_pair(tokenizer, built.pairs[i], topts, report.tokenize_drops, report.tokenize, built.sources[i]);
    if (!ids) continue;
    pairs.push_back(std::move(*ids));
    sources.push_back(built.sources[i].str());
  }
  report.print(std::cout);

  if (!out.empty()) {
    write_file_atomically(out, [&](FileWriter& w) {
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        nlohmann::json row = {{"prompt_ids", pairs[i].prompt_ids},
                              {"chosen_ids", pairs[i].chosen_ids},
                              {"rejected_ids", pairs[i].rejected_ids},
                              {"source", sources[i]}};
        w.write(row.dump());
        w.write(std::string_view("\n"));
      }
    });
    std::cout << "wrote " << pairs.size() << " tokenized pairs to " << out << "\n";
  }
  return 0;
}

}  // namespace prefopt::cli
