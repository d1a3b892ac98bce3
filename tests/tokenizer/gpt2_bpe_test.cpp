// SPDX-License-Identifier: MIT
// Gpt2Tokenizer against golden GPT-2 ids (tests/reference/tokenizer, two agreeing oracles), and its
// contract: round trips, errors on bad ids, cache and copies, concurrent use.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "prefopt/tokenizer/gpt2_bpe.hpp"
#include "tokenizer_test_support.hpp"

using namespace prefopt;
using namespace prefopt::test;

namespace {
using Ids = std::vector<token_t>;

// Random valid UTF-8 over a pool of every character class, with words and "<|endoftext|>".
std::string random_text(std::mt19937& rng) {
  static const char* const parts[] = {"the", " the", "Hello", " world", "'s", "'LL", " ", "  ", "\n", "\n\n", "\t",
                                      "123", " 4", "!", "...", " (", "\xC2\x85", "\xC2\xA0", "\xEF\xBB\xBF",
                                      "\xE3\x80\x80", "\xE6\x97\xA5\xE6\x9C\xAC", "e\xCC\x81", "\xF0\x9F\x98\x80",
                                      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9", "<|endoftext|>", "<|", "\r\n",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  std::string text;
  const int n = static_cast<int>(rng() % 30);
  for (int k = 0; k < n; ++k) text += parts[rng() % (sizeof parts / sizeof parts[0])];
  return text;
}
}  // namespace

TEST_CASE("GPT-2's vocabulary loads with its sizes and special token", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  CHECK(tok.vocab_size() == 50257);
  CHECK(tok.eos_token_id() == 50256);
  CHECK(tok.token_bytes(50256) == "<|endoftext|>");
  CHECK(tok.token_bytes(220) == " ");
  CHECK(tok.token_bytes(198) == "\n");
  CHECK(tok.token_bytes(3914) == " Let");
  REQUIRE(tok.vocabulary().added_tokens.size() == 1);
}

TEST_CASE("the seed's prompt and completion encode to the ids of ANCHORS b.3", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  const Ids prompt = tok.encode("### Question: What is AI?\n### Answer: ");
  REQUIRE(prompt.size() >= 3);
  CHECK(Ids(prompt.end() - 3, prompt.end()) == Ids{23998, 25, 220});
  const Ids completion = tok.encode("Let me explain. It is.<|endoftext|>");
  CHECK(Ids(completion.begin(), completion.begin() + 4) == Ids{5756, 502, 4727, 13});
  CHECK(completion.back() == 50256);
  CHECK(tok.encode(" Let") == Ids{3914});
}

TEST_CASE("the stress set encodes to the golden ids", "[tokenizer][gpt2][golden]") {
  const std::vector<StressCase> cases = stress_cases();
  REQUIRE(cases.size() >= 60);
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  int matched = 0;
  for (const StressCase& c : cases) {
    CAPTURE(c.name);
    CHECK(tok.encode(c.bytes) == c.ids);
    if (tok.encode(c.bytes) == c.ids) ++matched;
  }
  CHECK(matched == static_cast<int>(cases.size()));
}

TEST_CASE("decode inverts encode: exactly on valid UTF-8, up to U+FFFD on ill-formed input",
          "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  for (const StressCase& c : stress_cases()) {
    CAPTURE(c.name);
    CHECK(tok.decode(tok.encode(c.bytes)) == utf8::replace_invalid(c.bytes));
    if (utf8::is_valid(c.bytes)) CHECK(tok.decode_bytes(tok.encode(c.bytes)) == c.bytes);
  }
  std::mt19937 rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::string text = random_text(rng);
    CAPTURE(text);
    REQUIRE(tok.decode(tok.encode(text)) == text);
  }
}

TEST_CASE("decode gives valid UTF-8 for any ids; decode_bytes gives the raw bytes", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  const token_t c3 = tok.vocabulary().byte_tokens[0xC3];  // half of "é"
  CHECK(tok.decode_bytes({c3}) == "\xC3");
  CHECK(tok.decode({c3}) == "\xEF\xBF\xBD");
  CHECK(tok.decode({c3, tok.vocabulary().byte_tokens[0xA9]}) == "\xC3\xA9");
  std::mt19937 rng(5);
  for (int trial = 0; trial < 500; ++trial) {
    Ids ids(rng() % 20);
    for (auto& id : ids) id = static_cast<token_t>(rng() % 50257);
    REQUIRE(utf8::is_valid(tok.decode(ids)));
  }
}

TEST_CASE("ids outside the vocabulary are refused, naming the id and its position", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  CHECK_THROWS_MATCHES(tok.decode({1, 2, 50257}), ArgumentError,
                       WhatContains({"token id 50257 at position 2", "[0, 50257)"}));
  CHECK_THROWS_AS(tok.decode({-1}), ArgumentError);
  CHECK_THROWS_AS(tok.decode_bytes({100000}), ArgumentError);
  CHECK_THROWS_WITH(tok.token_bytes(-5), Catch::Matchers::Contains("token id -5"));
  std::string out = "kept";
  const token_t ids[] = {10, 50300};
  CHECK_THROWS_AS(tok.decode_bytes(ids, 2, out), ArgumentError);
  CHECK(out == "kept");  // nothing appended on error
}

TEST_CASE("special tokens can be encoded as plain text", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  CHECK(tok.encode("a<|endoftext|>b") == Ids{64, 50256, 65});
  const Ids plain = tok.encode("a<|endoftext|>b", SpecialTokens::as_text);
  CHECK(plain.size() > 3);
  CHECK(std::find(plain.begin(), plain.end(), 50256) == plain.end());
  CHECK(tok.decode(plain) == "a<|endoftext|>b");
}

TEST_CASE("encode appends to the output vector", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  Ids out{7, 8};
  tok.encode("Hello world", out);
  CHECK(out == Ids{7, 8, 15496, 995});
}

TEST_CASE("the cache changes nothing: no cache, a tiny cache and a copy agree", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer& tok = gpt2_tokenizer();
  Gpt2Tokenizer uncached = tok;
  uncached.set_cache_capacity(0);
  Gpt2Tokenizer tiny = tok;
  tiny.set_cache_capacity(3);  // cleared every few pieces
  CHECK(&tiny.vocabulary() == &tok.vocabulary());  // copies share the tables
  CHECK(tiny.cache_capacity() == 3);
  std::mt19937 rng(2);
  for (int trial = 0; trial < 500; ++trial) {
    const std::string text = random_text(rng);
    const Ids expected = tok.encode(text);
    REQUIRE(uncached.encode(text) == expected);
    REQUIRE(tiny.encode(text) == expected);
    REQUIRE(tiny.encode(text) == expected);  // warm
  }
}

TEST_CASE("one tokenizer encodes correctly from several threads at once", "[tokenizer][gpt2]") {
  const Gpt2Tokenizer tok = gpt2_tokenizer();  // a copy with a cold cache
  std::vector<std::string> texts;
  std::mt19937 rng(9);
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng));
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(gpt2_tokenizer().encode(t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i)
          if (tok.encode(texts[i]) != expected[i]) ++mismatches[static_cast<std::size_t>(t)];
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}
