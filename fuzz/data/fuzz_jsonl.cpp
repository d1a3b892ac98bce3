// SPDX-License-Identifier: MIT
// libFuzzer target: the whole data path over arbitrary bytes held in memory — gzip detection and
// inflation, line splitting, UTF-8 and JSON checks, records, the three pair builders,
// tokenize_pair (with a byte tokenizer) and append_pair — in both bad-record modes. Any exception
// other than prefopt's documented ones, a crash, a sanitizer report or a broken invariant is a
// finding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "prefopt/data/batcher.hpp"
#include "prefopt/data/gzip_stream.hpp"
#include "prefopt/data/jsonl_reader.hpp"
#include "prefopt/data/pairs/hh_rlhf_preference.hpp"
#include "prefopt/data/pairs/jsonl_pairs.hpp"
#include "prefopt/data/pairs/let_me_explain.hpp"
#include "prefopt/data/tokenize_pair.hpp"

namespace {

using namespace prefopt;

struct ByteTokenizer {  // "<|endoftext|>" -> 0, every other byte b -> 1 + b
  void encode(std::string_view text, std::vector<token_t>& out) const {
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, 13, "<|endoftext|>") == 0) {
        out.push_back(0);
        i += 13;
      } else {
        out.push_back(1 + static_cast<unsigned char>(text[i++]));
      }
    }
  }
  token_t eos_token_id() const { return 0; }
};

void check(bool condition) {
  if (!condition) __builtin_trap();
}

template <class Builder>
void build_and_pack(const Builder& builder, const Record& record, DropLog& drops, TokenizeCounts& counts) {
  std::optional<TextPair> pair;
  try {
    pair = builder.build(record, drops);
  } catch (const FieldError& e) {
    check(e.line() == record.line());
    return;
  }
  if (!pair) return;
  TokenizeOptions options;
  options.max_prompt_length = 64;
  options.max_length = 96;
  const auto ids = tokenize_pair(ByteTokenizer{}, *pair, options, drops, counts, record.where());
  if (!ids) return;
  check(!ids->prompt_ids.empty() && ids->prompt_ids.size() <= 64);
  check(ids->prompt_ids.size() + ids->chosen_ids.size() <= 96);
  check(ids->prompt_ids.size() + ids->rejected_ids.size() <= 96);
  PackedBatch batch;
  append_pair(batch, *ids);
  check(batch.n_sequences() == 2);
}

void read(std::string_view bytes, BadRecords mode) {
  ReadOptions options;
  options.bad_records = mode;
  options.max_line_bytes = 1 << 20;
  try {
    JsonlReader reader(decompress_if_gzip(std::make_unique<MemorySource>(bytes, "fuzz.jsonl")), options);
    Record record;
    DropLog drops;
    TokenizeCounts counts;
    long last_line = 0;
    index_t records = 0;
    while (reader.next(record)) {
      check(record.line() > last_line && record.json().is_object());
      last_line = record.line();
      ++records;
      build_and_pack(LetMeExplain{}, record, drops, counts);
      build_and_pack(HhRlhfPreference{}, record, drops, counts);
      build_and_pack(JsonlPairs{}, record, drops, counts);
    }
    const ReadStats& stats = reader.stats();
    check(stats.records == records);
    check(stats.records + stats.skipped.total() + stats.trailing_blank_lines <= stats.lines + 1);
    check(mode == BadRecords::Skip || stats.skipped.empty());
  } catch (const DataError&) {
    // Throw mode: any bad record; Skip mode: stream errors (truncated or corrupt gzip), long lines.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  read(bytes, BadRecords::Throw);
  read(bytes, BadRecords::Skip);
  return 0;
}
