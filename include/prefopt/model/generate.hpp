// SPDX-License-Identifier: MIT
// Text generation with a key/value cache, Hugging Face's generate() semantics:
//   greedy (do_sample=False): the argmax of the logits, ties to the lowest id (torch.argmax);
//   sampling: logits / temperature, then top-k, then top-p (the order of HF's logits warpers:
//   TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper), then a draw from the softmax.
// Each sequence stops after max_new_tokens new tokens or when it produces eos_token_id.
//
// Prompts are batched: the whole batch is prefilled through Gpt2::decode (chunks of at most
// prefill_chunk_tokens new rows per call), then each step feeds one token of every unfinished
// sequence; finished sequences drop out of the batch and cost nothing more. Every prompt draws
// from its own random stream, derived from (seed, prompt index), so its completion does not depend
// on what else is in the batch (up to floating-point differences between batched and unbatched
// GEMMs, which can only matter at an exact tie).
//
// Differences from HF worth knowing: HF's GenerationConfig defaults to top_k=50 when sampling,
// prefopt to 0 (off); probabilities are computed in double; the draw uses prefopt::Random, so
// sampled text matches HF in distribution, not token for token (greedy matches exactly).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/kv_cache.hpp"

namespace prefopt {

struct GenerationConfig {
  index_t max_new_tokens = 100;  // new tokens per prompt, EOS included (> 0)
  bool greedy = true;            // HF's do_sample = !greedy
  double temperature = 1.0;      // sampling: logits / temperature (> 0)
  index_t top_k = 0;             // sampling: keep the k largest logits (ties at the k-th kept); 0 = off
  double top_p = 1.0;            // sampling: nucleus, in [0, 1]; 1 = off
  std::uint64_t seed = 42;       // sampling: seed of every prompt's random stream
  token_t eos_token_id = 50256;  // stop token (returned as the last new token); negative = none
  index_t first_stream = 0;      // prompt i draws from stream (seed, first_stream + i), so a list
                                 // split into batches gives the same completions as one batch

  void validate() const {
    PREFOPT_CHECK(max_new_tokens > 0, "GenerationConfig: max_new_tokens must be positive, got ", max_new_tokens);
    PREFOPT_CHECK(std::isfinite(temperature) && temperature > 0,
                  "GenerationConfig: temperature must be a positive number, got ", temperature);
    PREFOPT_CHECK(top_k >= 0, "GenerationConfig: top_k must be >= 0 (0 = off), got ", top_k);
    PREFOPT_CHECK(top_p >= 0 && top_p <= 1, "GenerationConfig: top_p must be in [0, 1], got ", top_p);
    PREFOPT_CHECK(first_stream >= 0, "GenerationConfig: first_stream must be >= 0, got ", first_stream);
  }
};

/// Picks the next token from one row of logits. Holds its work buffers, so a generation loop
/// allocates nothing after the first token.
class LogitsSampler {
 public:
  /// argmax, ties to the lowest id; NaN never wins.
  template <class Scalar>
  static token_t greedy(const Scalar* logits, index_t vocab) {
    index_t best = 0;
    for (index_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best] || (std::isnan(logits[best]) && !std::isnan(logits[i]))) best = i;
    return static_cast<token_t>(best);
  }

  /// The sampling distribution after temperature, top-k and top-p (vocab probabilities, 0 for
  /// removed tokens); what sample() draws from.
  template <class Scalar>
  const std::vector<double>& probabilities(const Scalar* logits, index_t vocab, const GenerationConfig& g) {
    constexpr double neg_inf = -std::numeric_limits<double>::infinity();
    z_.resize(static_cast<std::size_t>(vocab));
    for (index_t i = 0; i < vocab; ++i) z_[i] = static_cast<double>(logits[i]) / g.temperature;
    if (g.top_k > 0 && g.top_k < vocab) {
      // TopKLogitsWarper: remove scores < the k-th largest score (so ties at the k-th survive).
      work_.assign(z_.begin(), z_.end());
      std::nth_element(work_.begin(), work_.begin() + (g.top_k - 1), work_.end(), std::greater<double>());
      const double kth = work_[static_cast<std::size_t>(g.top_k - 1)];
      for (auto& v : z_)
        if (v < kth) v = neg_inf;
    }
    double mx = neg_inf;
    for (double v : z_) mx = std::max(mx, v);
    p_.resize(z_.size());
    double total = 0;
    for (std::size_t i = 0; i < z_.size(); ++i) total += (p_[i] = z_[i] == neg_inf ? 0.0 : std::exp(z_[i] - mx));
    for (auto& v : p_) v /= total;
    if (g.top_p < 1) {
      // TopPLogitsWarper: sort ascending, remove the tokens whose cumulative probability is
      // <= 1 - top_p, never the largest. Equal probabilities rank the lower id as the larger.
      order_.clear();
      for (index_t i = 0; i < vocab; ++i)
        if (p_[i] > 0) order_.push_back(i);
      std::sort(order_.begin(), order_.end(), [this](index_t a, index_t b) {
        return p_[a] < p_[b] || (p_[a] == p_[b] && a > b);
      });
      double cumulative = 0;
      for (std::size_t r = 0; r + 1 < order_.size(); ++r) {
        cumulative += p_[order_[r]];
        if (cumulative > 1 - g.top_p) break;
        p_[order_[r]] = 0;
      }
      total = 0;
      for (double v : p_) total += v;
      for (auto& v : p_) v /= total;
    }
    return p_;
  }

  /// Draws a token from probabilities() with one uniform number of `rng`.
  template <class Scalar>
  token_t sample(const Scalar* logits, index_t vocab, const GenerationConfig& g, Random& rng) {
    const std::vector<double>& p = probabilities(logits, vocab, g);
    const double u = rng.uniform();
    double cumulative = 0;
    index_t last = 0;
    for (index_t i = 0; i < vocab; ++i) {
      if (p[i] <= 0) continue;
      cumulative += p[i];
      last = i;
      if (u < cumulative) return static_cast<token_t>(i);
    }
    return static_cast<token_t>(last);  // u within rounding of 1
  }

  template <class Scalar>
  token_t next(const Scalar* logits, index_t vocab, const GenerationConfig& g, Random& rng) {
    return g.greedy ? greedy(logits, vocab) : sample(logits, vocab, g, rng);
  }

 private:
  std::vector<double> z_, work_, p_;
  std::vector<index_t> order_;
};

/// The random stream of prompt `index` (SplitMix64 of a mix of seed and index).
inline Random generation_stream(std::uint64_t seed, index_t index) {
  Random mix(seed ^ (0x6A09E667F3BCC909ull * (static_cast<std::uint64_t>(index) + 1)));
  return Random(mix.next_u64());
}

/// Rows fed to one prefill call at most (bounds the prefill's scratch memory).
inline constexpr index_t prefill_chunk_tokens = 512;

/// Throws ArgumentError unless every prompt can be generated from: non-empty, ids in the
/// vocabulary, and prompt length + max_new_tokens <= n_positions.
inline void validate_prompts(const Gpt2Config& c, const std::vector<std::vector<token_t>>& prompts,
                             const GenerationConfig& g) {
  g.validate();
  PREFOPT_CHECK(g.eos_token_id < c.vocab_size, "generate: eos_token_id ", g.eos_token_id,
                " is outside the model's vocabulary of ", c.vocab_size, " (a negative id disables EOS)");
  PREFOPT_CHECK(g.max_new_tokens < c.n_positions, "generate: max_new_tokens=", g.max_new_tokens,
                " leaves no room for a prompt in the model's n_positions=", c.n_positions);
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    const index_t L = static_cast<index_t>(prompts[p].size());
    PREFOPT_CHECK(L > 0, "generate: prompt ", p, " is empty");
    PREFOPT_CHECK(L + g.max_new_tokens <= c.n_positions, "generate: prompt ", p, " has ", L,
                  " tokens; with max_new_tokens=", g.max_new_tokens, " it needs ", L + g.max_new_tokens,
                  " positions but the model has n_positions=", c.n_positions, " (at most ",
                  c.n_positions - g.max_new_tokens, " prompt tokens)");
    for (std::size_t t = 0; t < prompts[p].size(); ++t)
      PREFOPT_CHECK(prompts[p][t] >= 0 && prompts[p][t] < c.vocab_size, "generate: prompt ", p, " token ", t,
                    " is ", prompts[p][t], ", outside the vocabulary [0, ", c.vocab_size, ")");
  }
}

/// The cache generate() needs for these prompts: one slot each, room for the longest prompt plus
/// max_new_tokens - 1 fed tokens (the last new token is never fed back).
template <class Model>
KvCache<typename Model::device_type, typename Model::scalar_type> make_generation_cache(
    const Model& model, const std::vector<std::vector<token_t>>& prompts, const GenerationConfig& g) {
  index_t max_len = 1;
  for (const auto& p : prompts) max_len = std::max(max_len, static_cast<index_t>(p.size()) + g.max_new_tokens - 1);
  return KvCache<typename Model::device_type, typename Model::scalar_type>(
      model.config(), std::max<index_t>(1, static_cast<index_t>(prompts.size())),
      std::min(max_len, model.config().n_positions));
}

/// The new tokens of each prompt (an EOS, when produced, is the last of them), using `cache`
/// (reset first; at least prompts.size() slots and long enough, e.g. from make_generation_cache).
template <class Model>
std::vector<std::vector<token_t>> generate(Model& model, const std::vector<std::vector<token_t>>& prompts,
                                           const GenerationConfig& g,
                                           KvCache<typename Model::device_type, typename Model::scalar_type>& cache) {
  using Scalar = typename Model::scalar_type;
  const Gpt2Config& c = model.config();
  validate_prompts(c, prompts, g);
  const index_t B = static_cast<index_t>(prompts.size()), V = c.vocab_size;
  std::vector<std::vector<token_t>> out(static_cast<std::size_t>(B));
  if (B == 0) return out;
  PREFOPT_CHECK(cache.config() == c, "generate: the cache was made for another configuration");
  PREFOPT_CHECK(cache.batch_size() >= B, "generate: the cache has ", cache.batch_size(), " slots for ", B, " prompts");
  for (index_t b = 0; b < B; ++b)
    PREFOPT_CHECK(static_cast<index_t>(prompts[b].size()) + g.max_new_tokens - 1 <= cache.max_len(),
                  "generate: prompt ", b, " needs ", static_cast<index_t>(prompts[b].size()) + g.max_new_tokens - 1,
                  " cached positions but the cache has max_len=", cache.max_len());
  cache.reset();

  typename Model::device_type::template vector<Scalar> logits_dev(static_cast<std::size_t>(B * V));
  std::vector<Scalar> logits(static_cast<std::size_t>(B * V));  // host, row = prompt
  std::vector<Random> rngs;
  for (index_t b = 0; b < B; ++b) {
    rngs.push_back(generation_stream(g.seed, g.first_stream + b));
    out[b].reserve(static_cast<std::size_t>(g.max_new_tokens));
  }
  std::vector<index_t> slots, offsets;
  std::vector<token_t> tokens;
  slots.reserve(static_cast<std::size_t>(B));
  tokens.reserve(static_cast<std::size_t>(std::max(B, prefill_chunk_tokens)));
  auto fetch_rows = [&](auto&& is_wanted) {
    for (std::size_t i = 0; i < slots.size(); ++i)
      if (is_wanted(slots[i]))
        model.device().copy_to_host(logits_dev.data() + static_cast<index_t>(i) * V, V,
                                    logits.data() + slots[i] * V);
  };

  // Prefill: prompts in order, at most prefill_chunk_tokens rows per call (a long prompt may be
  // split across calls; its logits are taken from the call that feeds its last token).
  std::vector<index_t> fed(static_cast<std::size_t>(B), 0);
  for (index_t next = 0; next < B;) {
    slots.clear();
    tokens.clear();
    offsets.assign(1, 0);
    for (index_t budget = prefill_chunk_tokens; next < B && budget > 0;) {
      const index_t L = static_cast<index_t>(prompts[next].size());
      const index_t take = std::min(L - fed[next], budget);
      tokens.insert(tokens.end(), prompts[next].begin() + fed[next], prompts[next].begin() + fed[next] + take);
      slots.push_back(next);
      offsets.push_back(static_cast<index_t>(tokens.size()));
      fed[next] += take;
      budget -= take;
      if (fed[next] == L) ++next;
    }
    model.decode(cache, slots, tokens, offsets, logits_dev.data());
    fetch_rows([&](index_t b) { return fed[b] == static_cast<index_t>(prompts[b].size()); });
  }

  // Decode: every unfinished sequence picks a token from its logits and feeds it back.
  LogitsSampler sampler;
  std::vector<index_t> active(static_cast<std::size_t>(B));
  for (index_t b = 0; b < B; ++b) active[b] = b;
  while (!active.empty()) {
    slots.clear();
    tokens.clear();
    for (index_t b : active) {
      const token_t t = sampler.next(logits.data() + b * V, V, g, rngs[b]);
      out[b].push_back(t);
      const bool done = (g.eos_token_id >= 0 && t == g.eos_token_id) ||
                        static_cast<index_t>(out[b].size()) >= g.max_new_tokens ||
                        cache.length(b) >= cache.max_len();  // never first, given the checks
      if (!done) {
        slots.push_back(b);
        tokens.push_back(t);
      }
    }
    active.assign(slots.begin(), slots.end());
    if (active.empty()) break;
    model.decode(cache, slots, tokens, logits_dev.data());
    fetch_rows([](index_t) { return true; });
  }
  return out;
}

/// The new tokens of each prompt (an EOS, when produced, is the last of them).
template <class Model>
std::vector<std::vector<token_t>> generate(Model& model, const std::vector<std::vector<token_t>>& prompts,
                                           const GenerationConfig& g) {
  validate_prompts(model.config(), prompts, g);
  if (prompts.empty()) return {};
  auto cache = make_generation_cache(model, prompts, g);
  return generate(model, prompts, g, cache);
}

}  // namespace prefopt
