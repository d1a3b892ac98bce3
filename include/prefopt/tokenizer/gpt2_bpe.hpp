// SPDX-License-Identifier: MIT
// Gpt2Tokenizer: GPT-2's byte-level BPE (OpenAI gpt-2 src/encoder.py; the same ids as tiktoken's
// "gpt2" encoding and Hugging Face's GPT2TokenizerFast). Encoding a text:
//   1. ill-formed UTF-8 is repaired, one U+FFFD per maximal subpart (utf8.hpp; GUIDE §6);
//   2. added tokens ("<|endoftext|>" -> 50256) are matched verbatim and split off, as Hugging Face
//      tokenizers and tiktoken's allowed_special do; SpecialTokens::as_text turns this off;
//   3. each remaining span is cut by GPT-2's pre-tokenizer regex (pretokenize.hpp);
//   4. each piece's bytes become byte tokens, merged by rank (bpe_merge.hpp), through a cache.
// docs/tokenizer.md has the details, the golden tests and the benchmark.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/tokenizer/bpe_merge.hpp"
#include "prefopt/tokenizer/bpe_vocabulary.hpp"
#include "prefopt/tokenizer/pretokenize.hpp"
#include "prefopt/tokenizer/token_cache.hpp"
#include "prefopt/tokenizer/tokenizer_files.hpp"
#include "prefopt/tokenizer/utf8.hpp"

namespace prefopt {

/// Whether encode() matches added tokens ("<|endoftext|>") in the text.
enum class SpecialTokens {
  recognize,  // "<|endoftext|>" in the text -> 50256 (Hugging Face's default; what the seed relies on)
  as_text     // encoded as ordinary text, "<", "|", "endoftext", "|", ">" (tiktoken's encode_ordinary)
};

/// GPT-2's tokenizer. Thread safety: every member function is const-correct and may be called
/// from several threads on one object; encode() uses a per-object cache behind a mutex, and a
/// call that finds it taken encodes without it (same ids, slower). For parallel encoding give each
/// thread its own copy: copies share the read-only tables and each has its own cache.
class Gpt2Tokenizer {
 public:
  /// Pieces longer than this many bytes are merged with the heap algorithm (bpe_merge.hpp).
  static constexpr std::size_t heap_merge_threshold = 64;

  /// Reads a model directory: tokenizer.json when present (as transformers' AutoTokenizer does),
  /// otherwise vocab.json + merges.txt. Throws CheckpointError naming the missing or bad file.
  static Gpt2Tokenizer from_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw CheckpointError(dir.string(), std::filesystem::exists(dir, ec) ? "is not a directory, expected a model directory"
                                                                           : "directory not found");
    const auto tokenizer_json = dir / "tokenizer.json";
    const auto vocab_json = dir / "vocab.json", merges_txt = dir / "merges.txt";
    if (std::filesystem::exists(tokenizer_json, ec)) return from_tokenizer_json(tokenizer_json);
    if (std::filesystem::exists(vocab_json, ec) || std::filesystem::exists(merges_txt, ec))
      return from_vocab_and_merges(vocab_json, merges_txt);
    throw CheckpointError(dir.string(), "no tokenizer files: expected tokenizer.json, or vocab.json and merges.txt");
  }
  static Gpt2Tokenizer from_vocab_and_merges(const std::filesystem::path& vocab_json,
                                             const std::filesystem::path& merges_txt) {
    return Gpt2Tokenizer(read_vocab_and_merges(vocab_json, merges_txt));
  }
  static Gpt2Tokenizer from_tokenizer_json(const std::filesystem::path& tokenizer_json) {
    return Gpt2Tokenizer(read_tokenizer_json(tokenizer_json));
  }

  explicit Gpt2Tokenizer(BpeVocabulary vocabulary, std::size_t cache_entries = default_cache_entries)
      : tables_(std::make_shared<const Tables>(std::move(vocabulary))), state_(std::make_unique<State>(cache_entries)) {}

  /// A copy shares the tables and starts with an empty cache of the same capacity.
  Gpt2Tokenizer(const Gpt2Tokenizer& other)
      : tables_(other.tables_), state_(std::make_unique<State>(other.cache_capacity())) {}
  Gpt2Tokenizer& operator=(const Gpt2Tokenizer& other) {
    if (this != &other) {
      tables_ = other.tables_;
      state_ = std::make_unique<State>(other.cache_capacity());
    }
    return *this;
  }
  Gpt2Tokenizer(Gpt2Tokenizer&& other) noexcept : tables_(std::move(other.tables_)), state_(std::move(other.state_)) {}
  Gpt2Tokenizer& operator=(Gpt2Tokenizer&& other) noexcept {
    tables_ = std::move(other.tables_);
    state_ = std::move(other.state_);
    return *this;
  }

  /// Appends the ids of `text` (any bytes; see the file comment) to `out`.
  void encode(std::string_view text, std::vector<token_t>& out,
              SpecialTokens special = SpecialTokens::recognize) const {
    std::unique_lock<std::mutex> lock(state_->mutex, std::try_to_lock);
    if (lock.owns_lock()) {
      encode_with(*state_, text, out, special);
    } else {
      State uncached(0);
      encode_with(uncached, text, out, special);
    }
  }
  std::vector<token_t> encode(std::string_view text, SpecialTokens special = SpecialTokens::recognize) const {
    std::vector<token_t> out;
    encode(text, out, special);
    return out;
  }

  /// Appends the bytes of ids[0, count) to `out`. Throws ArgumentError naming the first id outside
  /// [0, vocab_size()) (and then appends nothing). The bytes may be ill-formed UTF-8 (a token can
  /// hold part of a character).
  void decode_bytes(const token_t* ids, std::size_t count, std::string& out) const {
    const auto& bytes = tables_->vocab.token_bytes;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
      check_id(ids[i], "decode", i);
      total += bytes[static_cast<std::size_t>(ids[i])].size();
    }
    out.reserve(out.size() + total);
    for (std::size_t i = 0; i < count; ++i) out.append(bytes[static_cast<std::size_t>(ids[i])]);
  }
  std::string decode_bytes(const std::vector<token_t>& ids) const {
    std::string out;
    decode_bytes(ids.data(), ids.size(), out);
    return out;
  }

  /// The text of `ids` as valid UTF-8: decode_bytes with each maximal ill-formed subpart replaced by
  /// U+FFFD (what Hugging Face's decode(errors="replace") gives). decode(encode(x)) == x for valid x.
  std::string decode(const std::vector<token_t>& ids) const {
    std::string bytes;
    decode_bytes(ids.data(), ids.size(), bytes);
    return utf8::is_valid(bytes) ? bytes : utf8::replace_invalid(bytes);
  }

  /// The id of "<|endoftext|>" (50256 for GPT-2).
  token_t eos_token_id() const noexcept { return tables_->vocab.eos_token_id; }

  /// Number of ids, added tokens included (50257 for GPT-2).
  index_t vocab_size() const noexcept { return static_cast<index_t>(tables_->vocab.token_bytes.size()); }

  /// The raw bytes of one token. Throws ArgumentError when `id` is outside [0, vocab_size()).
  const std::string& token_bytes(token_t id) const {
    check_id(id, "token_bytes", 0);
    return tables_->vocab.token_bytes[static_cast<std::size_t>(id)];
  }

  /// The tables (read-only; shared by copies).
  const BpeVocabulary& vocabulary() const noexcept { return tables_->vocab; }

  /// Entries the cache holds at most (0: no cache). Changing it empties the cache.
  std::size_t cache_capacity() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->cache.max_entries();
  }
  void set_cache_capacity(std::size_t entries) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->cache = TokenCache(entries);
  }

  static constexpr std::size_t default_cache_entries = std::size_t{1} << 15;

 private:
  struct Tables {
    explicit Tables(BpeVocabulary v) : vocab(std::move(v)) {
      for (const AddedToken& t : vocab.added_tokens) {
        const auto b = static_cast<unsigned char>(t.content[0]);
        only_first_byte = only_first_byte == -2 || only_first_byte == b ? b : -1;
        added_first_byte[b] = true;
      }
    }
    BpeVocabulary vocab;
    std::array<bool, 256> added_first_byte{};  // the bytes an added token can start with
    int only_first_byte = -2;                  // the one such byte, -1 if several, -2 if none
  };

  // Everything encode() mutates.
  struct State {
    explicit State(std::size_t cache_entries) : cache(cache_entries) {}
    std::mutex mutex;
    TokenCache cache;
    BpeScratch bpe;
    std::vector<token_t> symbols;
    std::string repaired;  // the input with ill-formed UTF-8 replaced
  };

  void check_id(token_t id, const char* what, std::size_t position) const {
    const index_t n = vocab_size();
    if (id < 0 || id >= n)
      throw ArgumentError(detail::concat(what, ": token id ", id, " at position ", position,
                                         " is outside the vocabulary [0, ", n, ")"));
  }

  void encode_with(State& st, std::string_view text, std::vector<token_t>& out, SpecialTokens special) const {
    std::string_view valid = text;
    if (!utf8::is_valid(text)) {
      st.repaired.clear();
      utf8::append_replacing_invalid(text, st.repaired);
      valid = st.repaired;
    }
    const auto& added = tables_->vocab.added_tokens;
    if (special == SpecialTokens::as_text || added.empty()) {
      encode_ordinary(st, valid, out);
      return;
    }
    // Split around added tokens, the longest first at each position (HF tokenizers' AddedVocabulary).
    std::size_t start = 0;
    for (std::size_t i = next_added_candidate(valid, 0); i < valid.size(); i = next_added_candidate(valid, i)) {
      const AddedToken* match = nullptr;
      for (const AddedToken& t : added)
        if (valid.compare(i, t.content.size(), t.content) == 0) {
          match = &t;
          break;
        }
      if (match == nullptr) {
        ++i;
        continue;
      }
      encode_ordinary(st, valid.substr(start, i - start), out);
      out.push_back(match->id);
      i += match->content.size();
      start = i;
    }
    encode_ordinary(st, valid.substr(start), out);
  }

  // The first position >= i where an added token may start (text.size() if none).
  std::size_t next_added_candidate(std::string_view text, std::size_t i) const {
    if (i >= text.size()) return text.size();
    if (tables_->only_first_byte >= 0) {  // GPT-2: every added token starts with '<'
      const void* p = std::memchr(text.data() + i, tables_->only_first_byte, text.size() - i);
      return p == nullptr ? text.size() : static_cast<std::size_t>(static_cast<const char*>(p) - text.data());
    }
    while (i < text.size() && !tables_->added_first_byte[static_cast<unsigned char>(text[i])]) ++i;
    return i;
  }

  // Pre-tokenizes and BPE-encodes valid UTF-8 without added tokens.
  void encode_ordinary(State& st, std::string_view text, std::vector<token_t>& out) const {
    const BpeVocabulary& v = tables_->vocab;
    for_each_gpt2_pretoken(text, [&](std::string_view piece) {
      if (piece.size() == 1) {
        out.push_back(v.byte_tokens[static_cast<unsigned char>(piece[0])]);
        return;
      }
      const bool cacheable = piece.size() <= TokenCache::max_piece_bytes;
      const std::uint64_t h = cacheable ? TokenCache::hash(piece) : 0;
      if (cacheable && st.cache.append_if_cached(piece, h, out)) return;
      std::vector<token_t>& symbols = st.symbols;
      symbols.resize(piece.size());
      for (std::size_t k = 0; k < piece.size(); ++k) symbols[k] = v.byte_tokens[static_cast<unsigned char>(piece[k])];
      if (piece.size() > heap_merge_threshold && v.merges_well_ordered) {
        bpe_merge_heap(v.merges, symbols, st.bpe);
      } else {
        bpe_merge_scan(v.merges, symbols, st.bpe);
      }
      out.insert(out.end(), symbols.begin(), symbols.end());
      if (cacheable) st.cache.insert(piece, h, symbols.data(), symbols.size());
    });
  }

  std::shared_ptr<const Tables> tables_;
  std::unique_ptr<State> state_;
};

}  // namespace prefopt
