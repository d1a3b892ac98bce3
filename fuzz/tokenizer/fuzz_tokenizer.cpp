// SPDX-License-Identifier: MIT
// libFuzzer target for Gpt2Tokenizer. For any input bytes x:
//   - encode(x) does not crash, and every id is in [0, vocab_size);
//   - decode(encode(x)) == x with ill-formed UTF-8 replaced (U+FFFD per maximal subpart), so
//     decode(encode(x)) == x for valid UTF-8;
//   - the cached and the uncached tokenizer give the same ids; SpecialTokens::as_text round-trips
//     too and never yields the end-of-text id;
//   - the heap and the scan merge agree on x's bytes taken as one piece;
//   - the pre-tokenizer's pieces tile x even when x is ill-formed UTF-8;
//   - x read as 16-bit ids decodes to valid UTF-8, and an id past the vocabulary throws ArgumentError.
// GPT-2's files: $PREFOPT_GPT2_DIR, else PREFOPT_FUZZ_GPT2_DIR (set by fuzz/tokenizer/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/tokenizer/gpt2_bpe.hpp"

using namespace prefopt;

namespace {
const Gpt2Tokenizer* cached = nullptr;
const Gpt2Tokenizer* uncached = nullptr;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("PREFOPT_GPT2_DIR");
  static const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(env != nullptr ? env : PREFOPT_FUZZ_GPT2_DIR);
  static Gpt2Tokenizer no_cache = tok;
  no_cache.set_cache_capacity(0);
  cached = &tok;
  uncached = &no_cache;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Gpt2Tokenizer& tok = *cached;
  const token_t n_vocab = static_cast<token_t>(tok.vocab_size());

  const std::vector<token_t> ids = tok.encode(text);
  for (const token_t id : ids)
    if (id < 0 || id >= n_vocab) fail("id out of range");
  const std::string repaired = utf8::replace_invalid(text);
  if (tok.decode(ids) != repaired) fail("decode(encode(x)) != x");
  if (uncached->encode(text) != ids) fail("cached and uncached encodings differ");

  const std::vector<token_t> plain = tok.encode(text, SpecialTokens::as_text);
  for (const token_t id : plain)
    if (id == tok.eos_token_id()) fail("as_text produced the end-of-text id");
  if (tok.decode(plain) != repaired) fail("decode(encode(x, as_text)) != x");

  // The scanner on raw (possibly ill-formed) bytes: unspecified pieces, but in bounds and complete.
  std::size_t covered = 0;
  for_each_gpt2_pretoken(text, [&](std::string_view piece) {
    if (piece.empty() || piece.data() != text.data() + covered) fail("pre-tokenizer pieces do not tile the input");
    covered += piece.size();
  });
  if (covered != size) fail("pre-tokenizer pieces do not cover the input");

  const BpeVocabulary& v = tok.vocabulary();
  if (size <= 4096) {
    std::vector<token_t> scan(size), heap;
    for (std::size_t i = 0; i < size; ++i) scan[i] = v.byte_tokens[data[i]];
    heap = scan;
    BpeScratch scratch;
    bpe_merge_scan(v.merges, scan, scratch);
    bpe_merge_heap(v.merges, heap, scratch);
    if (scan != heap) fail("heap and scan merges differ");
  }

  std::vector<token_t> raw;
  for (std::size_t i = 0; i + 1 < size; i += 2) raw.push_back(static_cast<token_t>((data[i] | data[i + 1] << 8) % n_vocab));
  if (!utf8::is_valid(tok.decode(raw))) fail("decode gave ill-formed UTF-8");
  if (size >= 2) {
    raw.push_back(n_vocab + data[0]);
    try {
      (void)tok.decode(raw);
      fail("an id past the vocabulary was accepted");
    } catch (const ArgumentError&) {
    }
  }
  return 0;
}
