// SPDX-License-Identifier: MIT
// BpeVocabulary: the immutable tables of a GPT-2-style byte-level BPE tokenizer (token bytes by id,
// the merge table on ids, the added tokens matched before pre-tokenizing), and the builder that
// checks them while a file reader (tokenizer_files.hpp) feeds it. Tokens arrive in their byte-level
// spelling (byte_unicode.hpp); everything after that works on raw bytes and integer ids.
// Errors are CheckpointError(file, "<where>: <what was expected>").
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/tokenizer/bpe_merge.hpp"
#include "prefopt/tokenizer/byte_unicode.hpp"
#include "prefopt/tokenizer/utf8.hpp"

namespace prefopt {

/// The end-of-text token of GPT-2 (id 50256 in GPT-2's vocabulary).
inline constexpr std::string_view gpt2_end_of_text = "<|endoftext|>";

/// A token matched verbatim in the text before pre-tokenizing (GPT-2's "<|endoftext|>", or an entry
/// of tokenizer.json's "added_tokens").
struct AddedToken {
  std::string content;  // raw UTF-8, not byte-level spelled
  token_t id;
};

struct BpeVocabulary {
  /// Ids must be below this bound, so a hostile file cannot make the tables huge.
  static constexpr std::int64_t max_vocab_size = std::int64_t{1} << 24;

  std::vector<std::string> token_bytes;  // id -> raw bytes; ids are dense 0..size-1
  std::array<token_t, 256> byte_tokens{};  // byte -> id of the token of that single byte
  MergeTable merges;                       // (left id, right id) -> rank, merged id
  bool merges_well_ordered = false;        // MergeTable::well_ordered(); enables the heap merge
  std::vector<AddedToken> added_tokens;    // longest first, so the longest match wins
  token_t eos_token_id = -1;               // "<|endoftext|>"
  std::string source;                      // the file(s) it was read from, for messages
};

namespace detail {
// A token as error messages quote it: at most 60 bytes of its byte-level spelling.
inline std::string quoted_token(std::string_view spelled) {
  std::string q = "\"";
  if (spelled.size() <= 60) {
    q.append(spelled);
  } else {
    std::size_t cut = 57;  // do not split a UTF-8 sequence
    while (cut > 0 && (static_cast<unsigned char>(spelled[cut]) & 0xC0) == 0x80) --cut;
    q.append(spelled.substr(0, cut)).append("...");
  }
  return utf8::replace_invalid(q + "\"");
}
}  // namespace detail

/// Builds a BpeVocabulary, checking every entry: first add_token() for each vocabulary entry, then
/// add_added_token(), then add_merge() in rank order, then finish().
class BpeVocabularyBuilder {
 public:
  explicit BpeVocabularyBuilder(std::string source) : source_(source) { vocab_.source = std::move(source); }

  /// The file that errors name from now on (vocab.json and merges.txt feed one builder).
  void set_source(std::string source) { source_ = std::move(source); }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw CheckpointError(source_, where.empty() ? what : where + ": " + what);
  }

  /// A vocabulary entry: byte-level spelling -> id.
  void add_token(std::string_view spelled, std::int64_t id, const std::string& where) {
    check_id(id, where, spelled);
    std::string bytes;
    std::size_t bad = 0;
    if (!byte_level_decode(spelled, bytes, &bad))
      fail(where, "token " + detail::quoted_token(spelled) + " has a character outside GPT-2's byte-level " +
                      "alphabet at byte " + std::to_string(bad) + " (a literal space, say: GPT-2 spells it \"\xC4\xA0\")");
    if (!ids_.emplace(bytes, static_cast<token_t>(id)).second)
      fail(where, "token " + detail::quoted_token(spelled) + " appears twice");
    entries_.emplace_back(static_cast<token_t>(id), std::move(bytes));
  }

  /// An added token (raw text, matched before pre-tokenizing). Its id may be a vocabulary entry's,
  /// if that entry has the same bytes.
  void add_added_token(std::string_view content, std::int64_t id, const std::string& where) {
    check_id(id, where, content);
    if (content.empty()) fail(where, "an added token is empty");
    if (!utf8::is_valid(content)) fail(where, "an added token is not valid UTF-8");
    for (const AddedToken& t : vocab_.added_tokens)
      if (t.content == content) fail(where, "added token " + detail::quoted_token(content) + " appears twice");
    entries_.emplace_back(static_cast<token_t>(id), std::string(content));
    vocab_.added_tokens.push_back(AddedToken{std::string(content), static_cast<token_t>(id)});
  }

  /// The next merge rule (its rank is the number of merges added before it).
  void add_merge(std::string_view left, std::string_view right, const std::string& where) {
    std::string merged;
    const token_t a = merge_part(left, where, left, right, merged);
    const token_t b = merge_part(right, where, left, right, merged);
    const auto it = ids_.find(merged);
    if (it == ids_.end())
      fail(where, "the result " + detail::quoted_token(byte_level_encode(merged)) + " of the merge " +
                      detail::quoted_token(std::string(left) + " " + std::string(right)) + " is not in the vocabulary");
    if (n_merges_ >= static_cast<std::size_t>(max_rank)) fail(where, "too many merges");
    vocab_.merges.insert(a, b, MergeRule{static_cast<std::int32_t>(n_merges_), it->second});
    ++n_merges_;
  }

  /// Checks the whole (dense ids, all 256 byte tokens, an end-of-text token) and returns it.
  BpeVocabulary finish() {
    token_t max_id = -1;
    for (const auto& e : entries_) max_id = std::max(max_id, e.first);
    // Dense ids need max_id < entries; checked before allocating anything of size max_id.
    const auto n = static_cast<std::size_t>(max_id) + 1;
    std::vector<bool> has_id(std::min(n, entries_.size()), false);
    vocab_.token_bytes.resize(has_id.size());
    for (auto& e : entries_) {
      const auto i = static_cast<std::size_t>(e.first);
      if (i >= has_id.size()) continue;
      if (has_id[i]) {
        if (vocab_.token_bytes[i] == e.second) continue;  // an added token that repeats its vocabulary entry
        fail("", "id " + std::to_string(i) + " is given to both " + detail::quoted_token(byte_level_encode(vocab_.token_bytes[i])) +
                     " and " + detail::quoted_token(byte_level_encode(e.second)));
      }
      has_id[i] = true;
      vocab_.token_bytes[i] = std::move(e.second);
    }
    for (std::size_t id = 0; id < n; ++id)
      if (id >= has_id.size() || !has_id[id])
        fail("", "no token has id " + std::to_string(id) + " (ids must be 0.." + std::to_string(n - 1) +
                     " without gaps)");
    entries_.clear();
    for (unsigned b = 0; b < 256; ++b) {
      const auto it = ids_.find(std::string(1, static_cast<char>(b)));
      if (it == ids_.end()) {
        std::string spelled;
        utf8::append_code_point(byte_to_unicode[b], spelled);
        fail("", "the vocabulary lacks the token of byte " + std::to_string(b) + " (spelled " +
                     detail::quoted_token(spelled) + "); GPT-2's byte-level BPE needs all 256");
      }
      vocab_.byte_tokens[b] = it->second;
    }
    const bool listed = std::any_of(vocab_.added_tokens.begin(), vocab_.added_tokens.end(),
                                    [](const AddedToken& t) { return t.content == gpt2_end_of_text; });
    const auto eos = ids_.find(std::string(gpt2_end_of_text));
    if (!listed && eos != ids_.end())  // vocab.json's "<|endoftext|>" is special in GPT-2
      vocab_.added_tokens.push_back(AddedToken{std::string(gpt2_end_of_text), eos->second});
    for (const AddedToken& t : vocab_.added_tokens)
      if (t.content == gpt2_end_of_text) vocab_.eos_token_id = t.id;
    if (vocab_.eos_token_id < 0) fail("", "the vocabulary has no \"<|endoftext|>\" token");
    std::stable_sort(vocab_.added_tokens.begin(), vocab_.added_tokens.end(),
                     [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
    vocab_.merges_well_ordered = vocab_.merges.well_ordered(vocab_.token_bytes.size());
    return std::move(vocab_);
  }

 private:
  static constexpr std::int64_t max_rank = std::int64_t{1} << 30;

  void check_id(std::int64_t id, const std::string& where, std::string_view token) const {
    if (id < 0 || id >= BpeVocabulary::max_vocab_size)
      fail(where, "token " + detail::quoted_token(token) + " has id " + std::to_string(id) + ", expected 0 <= id < " +
                      std::to_string(BpeVocabulary::max_vocab_size));
  }

  // The id of one side of a merge; appends its bytes to `merged`.
  token_t merge_part(std::string_view part, const std::string& where, std::string_view left, std::string_view right,
                     std::string& merged) const {
    const std::size_t before = merged.size();
    if (!byte_level_decode(part, merged) || merged.size() == before)
      fail(where, "merge " + detail::quoted_token(std::string(left) + " " + std::string(right)) +
                      " is not two tokens in GPT-2's byte-level alphabet");
    const auto it = ids_.find(merged.substr(before));
    if (it == ids_.end())
      fail(where, "merge " + detail::quoted_token(std::string(left) + " " + std::string(right)) + ": " +
                      detail::quoted_token(part) + " is not in the vocabulary");
    return it->second;
  }

  std::string source_;
  BpeVocabulary vocab_;
  std::unordered_map<std::string, token_t> ids_;  // raw bytes -> id, vocabulary entries only
  std::vector<std::pair<token_t, std::string>> entries_;  // id -> raw bytes, vocabulary and added
  std::size_t n_merges_ = 0;
};

}  // namespace prefopt
