// SPDX-License-Identifier: MIT
// The data stages of GUIDE §3 up to token pairs, with the counts the seed notebook prints:
//   records (JsonlReader) -> PairBuilder -> TextPair -> tokenize_pair (+ length filter) -> TokenizedPair
// build_pairs() and tokenize_pairs() fill one PairStageReport: rows read, bad records skipped,
// rows kept by the multi-turn filter, pairs built, pairs after tokenization/length filter, and
// every drop by reason with example lines. Under BadRecords::Skip a builder's FieldError (a
// missing or non-string field) is counted among the reader's bad records instead of thrown.
#pragma once

#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "prefopt/core/types.hpp"
#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pairs/text_pair.hpp"
#include "prefopt/data/record.hpp"
#include "prefopt/data/tokenize_pair.hpp"

namespace prefopt {

/// Text pairs with the file:line each came from (for messages about later drops).
struct BuiltPairs {
  std::vector<TextPair> pairs;
  std::vector<SourceLine> sources;  // (pairs.size())
};

struct PairStageReport {
  std::string builder;                   // the builder's name
  ReadStats read;                        // the reader's counts, bad records included
  DropLog build_drops;                   // records the builder made no pair from
  index_t pairs_built = 0;
  std::optional<TokenizeOptions> tokenize_options;  // set once tokenize_pairs has run
  TokenizeCounts tokenize;
  DropLog tokenize_drops;

  index_t rows_read() const noexcept { return read.records; }
  /// Rows that reached the builder with the fields it needs.
  index_t rows_with_fields() const {
    return read.records - read.skipped.count(SkipReason::MissingField) - read.skipped.count(SkipReason::FieldNotString);
  }
  /// Rows left by the multi-turn filter (the seed's "single-turn" count; LetMeExplain only).
  index_t single_turn() const { return rows_with_fields() - build_drops.count(DropReason::MultiTurn); }
  /// Pairs left after tokenization and the length rules (pairs_built until tokenize_pairs runs).
  index_t pairs_tokenized() const { return tokenize_options ? tokenize.pairs_out : pairs_built; }

  void print(std::ostream& out) const {
    auto row = [&](const std::string& label, index_t value) {
      out << "  " << std::left << std::setw(24) << label << std::right << std::setw(9) << value << "\n";
    };
    out << "pairs (" << builder << ")\n";
    row("rows read", rows_read());
    if (!read.skipped.empty()) row("bad records skipped", read.skipped.total());
    if (builder == "let-me-explain") row("single-turn kept", single_turn());
    row("pairs built", pairs_built);
    if (tokenize_options) {
      std::ostringstream label;
      label << (tokenize_options->length == LengthPolicy::Filter ? "after length filter" : "after tokenization");
      row(label.str(), tokenize.pairs_out);
    }
    if (!read.skipped.empty()) {
      out << "  bad records, by reason:\n";
      read.skipped.print(out, "    ");
    }
    if (!build_drops.empty() || !tokenize_drops.empty()) {
      out << "  pairs dropped, by reason:\n";
      build_drops.print(out, "    ");
      tokenize_drops.print(out, "    ");
    }
    if (tokenize_options) {
      out << "  ";
      tokenize.print(out);
    }
  }
  std::string to_string() const {
    std::ostringstream out;
    print(out);
    return out.str();
  }
};

/// Reads every record left in `reader` and builds pairs with `builder`.
template <class Builder>
BuiltPairs build_pairs(JsonlReader& reader, const Builder& builder, PairStageReport& report) {
  static_assert(is_pair_builder_v<Builder>,
                "prefopt::build_pairs: Builder does not model PairBuilder (data/pairs/text_pair.hpp)");
  report.builder = std::string(Builder::name);
  BuiltPairs out;
  Record record;
  while (reader.next(record)) {
    std::optional<TextPair> pair;
    try {
      pair = builder.build(record, report.build_drops);
    } catch (const FieldError& e) {
      if (reader.options().bad_records == BadRecords::Throw) throw;
      reader.count_bad_record(
          e.kind() == FieldError::Kind::Missing ? SkipReason::MissingField : SkipReason::FieldNotString,
          record.where(), e.description());
      continue;
    }
    if (pair) {
      out.pairs.push_back(std::move(*pair));
      out.sources.push_back(record.where());
    }
  }
  report.read = reader.stats();
  report.pairs_built = static_cast<index_t>(out.pairs.size());
  return out;
}

/// Tokenizes built pairs (tokenize_pair.hpp) in order, keeping those that pass the length rules.
template <class Tokenizer>
std::vector<TokenizedPair> tokenize_pairs(const Tokenizer& tokenizer, const BuiltPairs& built,
                                          const TokenizeOptions& options, PairStageReport& report) {
  options.validate();
  PREFOPT_CHECK(built.sources.size() == built.pairs.size(), "tokenize_pairs: ", built.pairs.size(), " pairs but ",
                built.sources.size(), " sources");
  report.tokenize_options = options;
  std::vector<TokenizedPair> out;
  out.reserve(built.pairs.size());
  for (std::size_t i = 0; i < built.pairs.size(); ++i) {
    std::optional<TokenizedPair> ids =
        tokenize_pair(tokenizer, built.pairs[i], options, report.tokenize_drops, report.tokenize, built.sources[i]);
    if (ids) out.push_back(std::move(*ids));
  }
  return out;
}

}  // namespace prefopt
