// SPDX-License-Identifier: MIT
// read_pairs_file: a JSONL (or .jsonl.gz) file of preference pairs in either of two shapes, per line:
//   ids:  {"prompt_ids": [..], "chosen_ids": [..], "rejected_ids": [..]}   (what `prefopt pairs --out` writes)
//   text: {"prompt": "..", "chosen": "..", "rejected": ".."}                (TRL's standard format)
// Id rows are taken as they are (already tokenized, EOS included); text rows go through
// tokenize_pair with the given options. Every id is checked against the vocabulary; a malformed
// row is a DataError naming file and line (or, with BadRecords::Skip, counted and reported).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pair_stage.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/tokenize_pair.hpp"

namespace prefopt {

namespace detail {
// The id array `field` of `record`, checked: integers in [0, vocab_size). Throws DataError.
inline std::vector<token_t> id_field(const Record& record, const char* field, index_t vocab_size, bool allow_empty) {
  const auto& j = record.json();
  const auto it = j.find(field);
  auto fail = [&](const std::string& what) { throw DataError(record.file(), record.line(), std::string("field \"") + field + "\" " + what); };
  if (it == j.end()) fail("missing");
  if (!it->is_array()) fail(std::string("is not an array of token ids (found ") + it->type_name() + ")");
  std::vector<token_t> ids;
  ids.reserve(it->size());
  for (std::size_t k = 0; k < it->size(); ++k) {
    const auto& v = (*it)[k];
    if (!v.is_number_integer()) fail("element " + std::to_string(k) + " is not an integer (found " + v.dump() + ")");
    const auto id = v.get<std::int64_t>();
    if (id < 0 || id >= vocab_size)
      fail("element " + std::to_string(k) + " = " + std::to_string(id) + " is outside the vocabulary [0, " +
           std::to_string(vocab_size) + ")");
    ids.push_back(static_cast<token_t>(id));
  }
  if (!allow_empty && ids.empty()) fail("is empty");
  return ids;
}
}  // namespace detail

/// Reads every pair of `paths`. `vocab_size` bounds id rows; `tokenizer` encodes text rows.
/// `report` gets the counts (rows read, bad rows skipped, pairs built, after tokenization).
template <class Tokenizer>
std::vector<TokenizedPair> read_pairs_file(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                           index_t vocab_size, const TokenizeOptions& options, PairStageReport& report,
                                           ReadOptions read = {}) {
  options.validate();
  JsonlReader reader(paths, read);
  report.builder = "pairs-file";
  report.tokenize_options = options;
  std::vector<TokenizedPair> out;
  Record record;
  const JsonlPairs text_builder;
  while (reader.next(record)) {
    try {
      if (record.has_field("prompt_ids")) {
        TokenizedPair p;
        p.prompt_ids = detail::id_field(record, "prompt_ids", vocab_size, false);
        p.chosen_ids = detail::id_field(record, "chosen_ids", vocab_size, false);
        p.rejected_ids = detail::id_field(record, "rejected_ids", vocab_size, false);
        ++report.pairs_built;
        ++report.tokenize.pairs_in;
        ++report.tokenize.pairs_out;
        out.push_back(std::move(p));
      } else {
        std::optional<TextPair> text = text_builder.build(record, report.build_drops);
        if (!text) continue;
        ++report.pairs_built;
        auto ids = tokenize_pair(tokenizer, *text, options, report.tokenize_drops, report.tokenize, record.where());
        if (ids) out.push_back(std::move(*ids));
      }
    } catch (const FieldError& e) {
      if (reader.options().bad_records == BadRecords::Throw) throw;
      reader.count_bad_record(e.kind() == FieldError::Kind::Missing ? SkipReason::MissingField : SkipReason::FieldNotString,
                              record.where(), e.description());
    } catch (const DataError& e) {
      if (reader.options().bad_records == BadRecords::Throw) throw;
      const std::string prefix = record.where().str() + ": ";
      std::string what = e.what();
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      reader.count_bad_record(SkipReason::BadTokenIds, record.where(), what);
    }
  }
  report.read = reader.stats();
  return out;
}

}  // namespace prefopt
