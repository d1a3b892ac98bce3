// SPDX-License-Identifier: MIT
// tokenize_pair: a TextPair to token ids the way TRL 0.12-0.15's DPOTrainer.tokenize_row does it
// (../shared/ANCHORS.md §b.3): prompt, chosen and rejected are encoded SEPARATELY (no special
// tokens added, no BOS), so "### Answer: " keeps its trailing " " token and the chosen completion
// starts with "Let", never a merged " Let"; then EOS is appended to each completion and lengths
// are enforced.
//   EosPolicy::AppendIfMissing (default): append eos_token_id only when the completion's ids do
//     not already end with it (a text ending in "<|endoftext|>" already does, with a tokenizer that
//     reads special tokens in text, as Hugging Face's GPT-2 tokenizer does).
//   EosPolicy::Trl012: always append — TRL 0.12-0.15's double EOS after "<|endoftext|>".
//   LengthPolicy::Truncate (TRL 0.12-0.13): the prompt keeps its LAST max_prompt_length tokens,
//     each completion its first max_completion_length, then each completion is cut from the right
//     so that prompt + completion <= max_length. No room for one completion token: dropped.
//     (TRL 0.14-0.15's truncation_mode="keep_end" cuts whole padded batches on the left; that
//     batch-shape artefact is not reproduced.)
//   LengthPolicy::Filter (the seed's filter_length cell): drop the pair when the prompt has more
//     than max_prompt_length tokens or prompt + chosen more than max_length, counting the ids of
//     encode(prompt) and encode(chosen) BEFORE any EOS is appended; then the Truncate rules apply,
//     which only matter for the few pairs that Trl012's extra EOS takes to max_length + 1.
// The Tokenizer needs `void encode(std::string_view, std::vector<token_t>& out) const` (appends
// ids) and `token_t eos_token_id() const`.
#pragma once

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/drop_log.hpp"
#include "prefopt/data/pairs/text_pair.hpp"

namespace prefopt {

namespace detail {
template <class T, class = void>
struct is_pair_tokenizer : std::false_type {};
template <class T>
struct is_pair_tokenizer<T, std::void_t<decltype(std::declval<const T&>().encode(
                                            std::declval<std::string_view>(), std::declval<std::vector<token_t>&>())),
                                        decltype(token_t(std::declval<const T&>().eos_token_id()))>>
    : std::true_type {};
}  // namespace detail

/// Whether T can tokenize pairs (see the top of this header).
template <class T>
inline constexpr bool is_pair_tokenizer_v = detail::is_pair_tokenizer<T>::value;

enum class EosPolicy { AppendIfMissing, Trl012 };
enum class LengthPolicy { Truncate, Filter };

/// Defaults are TRL 0.12-0.15 DPOConfig's (the seed sets max_prompt_length=256, max_length=512).
struct TokenizeOptions {
  std::optional<index_t> max_prompt_length = 512;
  std::optional<index_t> max_completion_length = std::nullopt;
  std::optional<index_t> max_length = 1024;
  EosPolicy eos = EosPolicy::AppendIfMissing;
  LengthPolicy length = LengthPolicy::Truncate;

  /// Throws ArgumentError on lengths < 1, or on Filter without both maxima.
  void validate() const {
    for (const auto& [value, field] : {std::pair{max_prompt_length, "max_prompt_length"},
                                       std::pair{max_completion_length, "max_completion_length"},
                                       std::pair{max_length, "max_length"}})
      PREFOPT_CHECK(!value || *value >= 1, "TokenizeOptions: ", field, " must be >= 1, got ", value.value_or(0));
    PREFOPT_CHECK(length != LengthPolicy::Filter || (max_prompt_length && max_length),
                  "TokenizeOptions: LengthPolicy::Filter needs max_prompt_length and max_length");
  }
};

/// Completion ids exclude the prompt: the sequences a model sees are prompt + chosen and
/// prompt + rejected.
struct TokenizedPair {
  std::vector<token_t> prompt_ids, chosen_ids, rejected_ids;
};

/// Facts about the pairs that went through tokenize_pair, beyond the drops.
struct TokenizeCounts {
  index_t pairs_in = 0;                   // pairs offered
  index_t pairs_out = 0;                  // pairs returned
  index_t completions_ending_in_eos = 0;  // completions whose own ids already ended with EOS
  index_t double_eos = 0;                 // of those, completions Trl012 gave a second EOS
  index_t prompts_truncated = 0;          // pairs whose prompt lost tokens
  index_t completions_truncated = 0;      // pairs with at least one completion cut

  void print(std::ostream& out) const {
    out << "tokenized " << pairs_out << " of " << pairs_in << " pairs; " << completions_ending_in_eos
        << " completions already ended with EOS (" << double_eos << " given a second one); "
        << prompts_truncated << " prompts and " << completions_truncated << " completion pairs truncated\n";
  }
};

/// Tokenizes one pair; returns nothing when it is dropped (the reason counted in `drops`, with
/// `where` as its example location).
template <class Tokenizer>
std::optional<TokenizedPair> tokenize_pair(const Tokenizer& tokenizer, const TextPair& pair,
                                           const TokenizeOptions& options, DropLog& drops, TokenizeCounts& counts,
                                           const SourceLine& where = {}) {
  static_assert(is_pair_tokenizer_v<Tokenizer>,
                "prefopt::tokenize_pair: the tokenizer needs encode(std::string_view, std::vector<token_t>&) const "
                "and eos_token_id() const (data/tokenize_pair.hpp)");
  options.validate();
  ++counts.pairs_in;
  auto drop = [&](DropReason reason, std::string detail) -> std::optional<TokenizedPair> {
    drops.add(reason, where, std::move(detail));
    return std::nullopt;
  };
  TokenizedPair out;
  tokenizer.encode(pair.prompt, out.prompt_ids);
  tokenizer.encode(pair.chosen, out.chosen_ids);
  tokenizer.encode(pair.rejected, out.rejected_ids);
  const auto n_prompt = static_cast<index_t>(out.prompt_ids.size());
  if (n_prompt == 0) return drop(DropReason::EmptyPrompt, {});

  if (options.length == LengthPolicy::Filter) {
    const auto n_chosen = static_cast<index_t>(out.chosen_ids.size());
    if (n_prompt > *options.max_prompt_length)
      return drop(DropReason::PromptTooLong, std::to_string(n_prompt) + " prompt tokens");
    if (n_prompt + n_chosen > *options.max_length)
      return drop(DropReason::PairTooLong, std::to_string(n_prompt) + " + " + std::to_string(n_chosen) + " tokens");
  }

  const token_t eos = static_cast<token_t>(tokenizer.eos_token_id());
  for (std::vector<token_t>* ids : {&out.chosen_ids, &out.rejected_ids}) {
    const bool ends_in_eos = !ids->empty() && ids->back() == eos;
    counts.completions_ending_in_eos += ends_in_eos;
    if (!ends_in_eos || options.eos == EosPolicy::Trl012) {
      counts.double_eos += ends_in_eos;
      ids->push_back(eos);
    }
  }

  if (options.max_prompt_length && n_prompt > *options.max_prompt_length) {
    out.prompt_ids.erase(out.prompt_ids.begin(), out.prompt_ids.end() - *options.max_prompt_length);
    ++counts.prompts_truncated;
  }
  index_t room = options.max_completion_length.value_or(-1);
  if (options.max_length) {
    const index_t left = *options.max_length - static_cast<index_t>(out.prompt_ids.size());
    if (left < 1)
      return drop(DropReason::CompletionTruncatedAway,
                  std::to_string(out.prompt_ids.size()) + " prompt tokens, max_length " + std::to_string(*options.max_length));
    room = room < 0 ? left : std::min(room, left);
  }
  if (room >= 0) {
    bool cut = false;
    for (std::vector<token_t>* ids : {&out.chosen_ids, &out.rejected_ids}) {
      if (static_cast<index_t>(ids->size()) > room) {
        ids->resize(static_cast<std::size_t>(room));
        cut = true;
      }
    }
    counts.completions_truncated += cut;
  }
  ++counts.pairs_out;
  return out;
}

}  // namespace prefopt
