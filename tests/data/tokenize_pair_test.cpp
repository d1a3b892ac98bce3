// SPDX-License-Identifier: MIT
// tokenize_pair with FakeTokenizer (data_test_support.hpp): one token per byte, "<|endoftext|>"
// is the single token 7 (EOS), so every count below can be read off the strings.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "data_test_support.hpp"
#include "prefopt/data/tokenize_pair.hpp"

using namespace prefopt;
using data_test::FakeTokenizer;
using data_test::fake_ids;

static_assert(is_pair_tokenizer_v<FakeTokenizer>);
namespace {
struct NoEos {
  void encode(std::string_view, std::vector<token_t>&) const {}
};
}  // namespace
static_assert(!is_pair_tokenizer_v<NoEos>);

namespace {

constexpr token_t eos = FakeTokenizer::eos_id;

std::vector<token_t> ids_with(std::string_view text, std::vector<token_t> tail) {
  std::vector<token_t> ids = fake_ids(text);
  ids.insert(ids.end(), tail.begin(), tail.end());
  return ids;
}

struct Run {
  DropLog drops;
  TokenizeCounts counts;
  std::optional<TokenizedPair> operator()(const TextPair& pair, const TokenizeOptions& options) {
    return tokenize_pair(FakeTokenizer{}, pair, options, drops, counts);
  }
};

}  // namespace

TEST_CASE("prompt and completions are tokenized separately", "[data][tokenize]") {
  Run run;
  const auto ids = run({"Q: x\nA: ", "Let me explain. y<|endoftext|>", "y<|endoftext|>"}, {});
  REQUIRE(ids);
  CHECK(ids->prompt_ids == fake_ids("Q: x\nA: "));  // ends with its own " " token
  CHECK(ids->chosen_ids == fake_ids("Let me explain. y<|endoftext|>"));
  CHECK(ids->rejected_ids == fake_ids("y<|endoftext|>"));
}

TEST_CASE("EosPolicy::AppendIfMissing adds EOS only to completions that lack it", "[data][tokenize]") {
  Run run;
  const auto ids = run({"p", "ab<|endoftext|>", "cd"}, {});
  REQUIRE(ids);
  CHECK(ids->chosen_ids == ids_with("ab", {eos}));
  CHECK(ids->rejected_ids == ids_with("cd", {eos}));
  CHECK(run.counts.completions_ending_in_eos == 1);
  CHECK(run.counts.double_eos == 0);
}

TEST_CASE("EosPolicy::Trl012 always appends EOS: TRL 0.12-0.15's double EOS", "[data][tokenize]") {
  Run run;
  TokenizeOptions options;
  options.eos = EosPolicy::Trl012;
  const auto ids = run({"p", "ab<|endoftext|>", "cd"}, options);
  REQUIRE(ids);
  CHECK(ids->chosen_ids == ids_with("ab", {eos, eos}));
  CHECK(ids->rejected_ids == ids_with("cd", {eos}));
  CHECK(run.counts.completions_ending_in_eos == 1);
  CHECK(run.counts.double_eos == 1);
}

TEST_CASE("Truncate keeps the prompt's last tokens and cuts completions from the right", "[data][tokenize]") {
  Run run;
  TokenizeOptions options;
  options.max_prompt_length = 4;
  options.max_length = 7;
  const auto ids = run({"0123456789", "abcdef", "xy"}, options);
  REQUIRE(ids);
  CHECK(ids->prompt_ids == fake_ids("6789"));
  CHECK(ids->chosen_ids == fake_ids("abc"));           // 4 + 3 = max_length; EOS cut away too
  CHECK(ids->rejected_ids == ids_with("xy", {eos}));   // fits
  CHECK(run.counts.prompts_truncated == 1);
  CHECK(run.counts.completions_truncated == 1);
  CHECK(run.counts.pairs_out == 1);
}

TEST_CASE("Truncate applies max_completion_length before max_length", "[data][tokenize]") {
  Run run;
  TokenizeOptions options;
  options.max_completion_length = 2;
  const auto ids = run({"p", "abcdef", "x"}, options);
  REQUIRE(ids);
  CHECK(ids->chosen_ids == fake_ids("ab"));
  CHECK(ids->rejected_ids == ids_with("x", {eos}));
  options.max_prompt_length = std::nullopt;
  options.max_completion_length = std::nullopt;
  options.max_length = std::nullopt;
  const auto untouched = run({std::string(5000, 'p'), std::string(5000, 'c'), "r"}, options);
  REQUIRE(untouched);
  CHECK(untouched->prompt_ids.size() == 5000);
  CHECK(untouched->chosen_ids.size() == 5001);
}

TEST_CASE("Truncate drops a pair left with no room for a completion token", "[data][tokenize]") {
  Run run;
  TokenizeOptions options;
  options.max_prompt_length = 8;
  options.max_length = 5;
  CHECK_FALSE(run({"12345", "a", "b"}, options));
  CHECK(run({"1234", "abc", "b"}, options)->chosen_ids == fake_ids("a"));
  CHECK(run.drops.count(DropReason::CompletionTruncatedAway) == 1);
  CHECK(run.counts.pairs_in == 2);
  CHECK(run.counts.pairs_out == 1);
}

TEST_CASE("Filter drops by the seed's rule, counting tokens before any appended EOS", "[data][tokenize]") {
  TokenizeOptions options;
  options.length = LengthPolicy::Filter;
  options.max_prompt_length = 4;
  options.max_length = 10;
  Run run;
  CHECK_FALSE(run({"12345", "a", "b"}, options));                       // prompt 5 > 4
  CHECK_FALSE(run({"1234", "abcdefg", "b"}, options));                  // 4 + 7 > 10
  CHECK_FALSE(run({"1234", "abcdef<|endoftext|>", "b"}, options));      // 4 + 7 > 10: the text's EOS counts
  const auto at_limit = run({"1234", "abcde<|endoftext|>", std::string(20, 'r')}, options);  // 4 + 6 = 10
  REQUIRE(at_limit);
  CHECK(at_limit->chosen_ids == ids_with("abcde", {eos}));
  CHECK(at_limit->rejected_ids.size() == 6);  // the filter ignores rejected; max_length still cuts it
  CHECK(run.drops.count(DropReason::PromptTooLong) == 1);
  CHECK(run.drops.count(DropReason::PairTooLong) == 2);
  CHECK(run.counts.pairs_out == 1);

  // With Trl012 the same pair reaches max_length + 1 (the second EOS): the cut takes it back off,
  // as TRL 0.12-0.13's right truncation of the batch does.
  options.eos = EosPolicy::Trl012;
  Run trl;
  const auto doubled = trl({"1234", "abcde<|endoftext|>", "r<|endoftext|>"}, options);
  REQUIRE(doubled);
  CHECK(doubled->chosen_ids == ids_with("abcde", {eos}));
  CHECK(doubled->rejected_ids == ids_with("r", {eos, eos}));
  CHECK(trl.counts.double_eos == 2);
  CHECK(trl.counts.completions_truncated == 1);

  // A completion without EOS text passes the filter at exactly max_length and then loses the EOS
  // appended to it: the seed's filter does not count it (documented in docs/data-formats.md).
  options.eos = EosPolicy::AppendIfMissing;
  Run plain;
  const auto no_eos_text = plain({"1234", "abcdef", "r"}, options);
  REQUIRE(no_eos_text);
  CHECK(no_eos_text->chosen_ids == fake_ids("abcdef"));
}

TEST_CASE("a prompt without tokens is dropped", "[data][tokenize]") {
  Run run;
  CHECK_FALSE(run({"", "a", "b"}, {}));
  CHECK(run.drops.count(DropReason::EmptyPrompt) == 1);
}

TEST_CASE("TokenizeOptions are validated", "[data][tokenize]") {
  Run run;
  TokenizeOptions options;
  options.max_length = 0;
  CHECK_THROWS_AS(run({"p", "c", "r"}, options), ArgumentError);
  options.max_length = std::nullopt;
  options.length = LengthPolicy::Filter;
  CHECK_THROWS_WITH(run({"p", "c", "r"}, options), Catch::Contains("Filter needs"));
}
