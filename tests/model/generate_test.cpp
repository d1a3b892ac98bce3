// SPDX-License-Identifier: MIT
// Generation with a key/value cache: Gpt2::decode gives the logits of a full forward over the same
// prefix at every step, greedy generation is the argmax of the full forward at every step,
// sampling is deterministic per seed and independent of the batch, and the stopping rules and
// errors are HF's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "support/test_device.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/generate.hpp"
#include "prefopt/model/gpt2.hpp"
#include "tiny_model.hpp"

using namespace prefopt;

namespace {

// Larger weights than GPT-2's init so the tiny model's logits are far apart and its completions vary.
Gpt2Config generation_config() {
  Gpt2Config c = test::tiny_config();
  c.initializer_range = 0.4;
  return c;
}

// Logits buffers are handed to the model, so they are test::Vector (device-visible in the CUDA build).
template <class Scalar>
test::Vector<Scalar> full_last_logits(Gpt2<test::TestDevice, Scalar>& model, const std::vector<std::vector<token_t>>& seqs) {
  PackedBatch batch;
  for (const auto& s : seqs) batch.add_sequence(s, std::vector<token_t>(s.size(), no_target));
  test::Vector<Scalar> logits(seqs.size() * static_cast<std::size_t>(model.config().vocab_size));
  model.last_logits(batch, logits.data());
  return logits;
}

template <class Scalar>
void check_close(const test::Vector<Scalar>& got, const test::Vector<Scalar>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": decode " << got[i] << " vs full forward " << want[i]);
    CHECK(std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])) <=
          tol * std::max(1.0, std::abs(static_cast<double>(want[i]))));
  }
}

// Prefill (one prompt split over two calls), then steps where sequences drop out, comparing
// every call's logits with last_logits over the whole prefixes.
template <class Scalar>
void decode_matches_full_forward(double tol) {
  const Gpt2Config config = generation_config();
  Gpt2<test::TestDevice, Scalar> model(config, test::TestDevice{}, GradientMemory::none);
  model.init_random(11);
  const index_t V = config.vocab_size;
  std::vector<std::vector<token_t>> seqs = {test::random_tokens(3, V, 21), test::random_tokens(1, V, 22),
                                            test::random_tokens(6, V, 23)};
  KvCache<test::TestDevice, Scalar> cache(config, 4, config.n_positions);  // slot 3 stays unused
  test::Vector<Scalar> logits(3 * static_cast<std::size_t>(V));

  // Call 1: all of prompts 0 and 1, the first 4 tokens of prompt 2.
  std::vector<token_t> toks(seqs[0]);
  toks.insert(toks.end(), seqs[1].begin(), seqs[1].end());
  toks.insert(toks.end(), seqs[2].begin(), seqs[2].begin() + 4);
  model.decode(cache, {0, 1, 2}, toks, {0, 3, 4, 8}, logits.data());
  check_close(logits, full_last_logits(model, {seqs[0], seqs[1], {seqs[2].begin(), seqs[2].begin() + 4}}), tol);
  // Call 2: the rest of prompt 2 together with a first generated token of slot 1.
  const std::vector<token_t> rest(seqs[2].begin() + 4, seqs[2].end());
  seqs[1].push_back(5);
  std::vector<token_t> toks2 = {5};
  toks2.insert(toks2.end(), rest.begin(), rest.end());
  logits.resize(2 * static_cast<std::size_t>(V));
  model.decode(cache, {1, 2}, toks2, {0, 1, 3}, logits.data());
  check_close(logits, full_last_logits(model, {seqs[1], seqs[2]}), tol);
  CHECK(cache.length(0) == 3);
  CHECK(cache.length(1) == 2);
  CHECK(cache.length(2) == 6);
  CHECK(cache.length(3) == 0);

  // Steps: one token per active slot, in a changing order; slot 1 drops out after two steps.
  std::vector<index_t> active = {2, 0, 1};
  for (int step = 0; step < 7; ++step) {
    if (step == 2) active = {0, 2};
    std::vector<token_t> next;
    std::vector<std::vector<token_t>> prefixes;
    for (index_t b : active) {
      next.push_back(static_cast<token_t>((b * 5 + step * 3 + 1) % V));
      seqs[b].push_back(next.back());
      prefixes.push_back(seqs[b]);
    }
    logits.resize(active.size() * static_cast<std::size_t>(V));
    model.decode(cache, active, next, logits.data());
    INFO("step " << step);
    check_close(logits, full_last_logits(model, prefixes), tol);
  }
  CHECK(cache.length(0) == 10);
  CHECK(cache.length(2) == 13);
}

// Greedy completions checked against the argmax of a full forward over prompt + tokens so far.
template <class Scalar>
void greedy_is_argmax_of_full_forward() {
  const Gpt2Config config = generation_config();
  Gpt2<test::TestDevice, Scalar> model(config, test::TestDevice{}, GradientMemory::none);
  model.init_random(12);
  const index_t V = config.vocab_size;
  const std::vector<std::vector<token_t>> prompts = {test::random_tokens(4, V, 31), test::random_tokens(1, V, 32),
                                                     test::random_tokens(8, V, 33)};
  GenerationConfig g;
  g.max_new_tokens = 8;
  g.eos_token_id = -1;
  const auto out = generate(model, prompts, g);
  REQUIRE(out.size() == prompts.size());
  std::vector<token_t> distinct;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    REQUIRE(out[p].size() == 8);
    std::vector<token_t> seq = prompts[p];
    for (token_t t : out[p]) {
      const auto z = full_last_logits(model, {seq});
      CHECK(t == LogitsSampler::greedy(z.data(), V));
      seq.push_back(t);
      distinct.push_back(t);
    }
  }
  std::sort(distinct.begin(), distinct.end());
  CHECK(std::unique(distinct.begin(), distinct.end()) - distinct.begin() > 2);  // not a degenerate model
}

}  // namespace

TEST_CASE("decode logits equal a full forward over the prefix (double)", "[model][cpu][generate]") {
  decode_matches_full_forward<double>(1e-12);
}

TEST_CASE("decode logits equal a full forward over the prefix (float)", "[model][cpu][generate]") {
  decode_matches_full_forward<float>(1e-5);
}

TEST_CASE("greedy generation is the argmax of the full forward at every step", "[model][cpu][generate]") {
  greedy_is_argmax_of_full_forward<double>();
  greedy_is_argmax_of_full_forward<float>();
}

TEST_CASE("the sampler applies temperature, top-k and top-p as Hugging Face", "[model][generate]") {
  LogitsSampler s;
  const std::vector<double> ties = {1, 3, 3, 2};
  CHECK(LogitsSampler::greedy(ties.data(), 4) == 1);  // torch.argmax: the first maximum

  GenerationConfig g;
  g.greedy = false;
  const std::vector<double> z = {1, 3, 2, 0};
  auto softmax = [](std::vector<double> v) {
    double m = *std::max_element(v.begin(), v.end()), t = 0;
    for (auto& x : v) t += (x = std::exp(x - m));
    for (auto& x : v) x /= t;
    return v;
  };
  g.temperature = 2;
  auto p = s.probabilities(z.data(), 4, g);
  auto want = softmax({0.5, 1.5, 1.0, 0.0});
  for (int i = 0; i < 4; ++i) CHECK(p[i] == Approx(want[i]).epsilon(1e-14));

  g.temperature = 1;
  g.top_k = 2;
  p = s.probabilities(z.data(), 4, g);
  want = softmax({3, 2});
  CHECK(p[0] == 0);
  CHECK(p[3] == 0);
  CHECK(p[1] == Approx(want[0]).epsilon(1e-14));
  CHECK(p[2] == Approx(want[1]).epsilon(1e-14));
  const std::vector<double> tied_k = {2, 1, 2, 2};  // ties at the k-th largest are all kept
  p = s.probabilities(tied_k.data(), 4, g);
  CHECK(p[1] == 0);
  CHECK(p[0] == Approx(1.0 / 3));

  // top_p keeps the smallest set reaching top_p: {0.5, 0.3} reaches 0.75.
  g.top_k = 0;
  g.top_p = 0.75;
  const std::vector<double> lp = {std::log(0.15), std::log(0.5), std::log(0.05), std::log(0.3)};
  p = s.probabilities(lp.data(), 4, g);
  CHECK(p[0] == 0);
  CHECK(p[2] == 0);
  CHECK(p[1] == Approx(0.5 / 0.8).epsilon(1e-12));
  CHECK(p[3] == Approx(0.3 / 0.8).epsilon(1e-12));
  g.top_p = 0;  // always at least one token
  p = s.probabilities(lp.data(), 4, g);
  CHECK(p[1] == 1);

  // The draw follows the distribution.
  g.top_p = 1;
  Random rng(5);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 20000; ++i) ++counts[s.sample(lp.data(), 4, g, rng)];
  CHECK(counts[1] / 20000.0 == Approx(0.5).margin(0.02));
  CHECK(counts[2] / 20000.0 == Approx(0.05).margin(0.01));
}

TEST_CASE("sampling is deterministic per seed and independent of the batch", "[model][cpu][generate]") {
  const Gpt2Config config = generation_config();
  Gpt2<test::TestDevice, double> model(config, test::TestDevice{}, GradientMemory::none);
  model.init_random(13);
  const index_t V = config.vocab_size;
  const auto A = test::random_tokens(3, V, 41), Bp = test::random_tokens(5, V, 42), Cp = test::random_tokens(2, V, 43);
  GenerationConfig g;
  g.greedy = false;
  g.temperature = 1.5;
  g.max_new_tokens = 10;
  g.eos_token_id = -1;
  g.seed = 7;
  const auto abc = generate(model, {A, Bp, Cp}, g);
  CHECK(generate(model, {A, Bp, Cp}, g) == abc);
  CHECK(generate(model, {A}, g)[0] == abc[0]);                           // prompt 0 alone
  CHECK(generate(model, {Cp, A, Cp}, g)[2] == abc[2]);                   // prompt 2 among others
  g.seed = 8;
  CHECK(generate(model, {A, Bp, Cp}, g) != abc);

  // top_k = 1 and a tiny top_p are greedy.
  GenerationConfig greedy = g;
  greedy.greedy = true;
  const auto want = generate(model, {A, Bp, Cp}, greedy);
  GenerationConfig k1 = g;
  k1.top_k = 1;
  CHECK(generate(model, {A, Bp, Cp}, k1) == want);
  GenerationConfig p0 = g;
  p0.top_p = 1e-6;
  CHECK(generate(model, {A, Bp, Cp}, p0) == want);
}

TEST_CASE("generation stops at EOS and at max_new_tokens", "[model][cpu][generate]") {
  const Gpt2Config config = generation_config();
  Gpt2<test::TestDevice, float> model(config, test::TestDevice{}, GradientMemory::none);
  model.init_random(14);
  const index_t V = config.vocab_size;
  const std::vector<std::vector<token_t>> prompts = {test::random_tokens(2, V, 51), test::random_tokens(5, V, 52),
                                                     test::random_tokens(1, V, 53), test::random_tokens(4, V, 54)};
  GenerationConfig g;
  g.max_new_tokens = 9;
  g.eos_token_id = -1;
  const auto full = generate(model, prompts, g);
  for (const auto& o : full) CHECK(o.size() == 9);
  g.max_new_tokens = 3;
  const auto short3 = generate(model, prompts, g);
  for (std::size_t p = 0; p < prompts.size(); ++p)
    CHECK(short3[p] == std::vector<token_t>(full[p].begin(), full[p].begin() + 3));

  // With an EOS, each completion is the one without, cut after its first EOS (included); the
  // sequences that stop early leave the others unchanged.
  g.max_new_tokens = 9;
  g.eos_token_id = full[1][2];
  const auto stopped = generate(model, prompts, g);
  bool some_cut = false;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    const auto it = std::find(full[p].begin(), full[p].end(), g.eos_token_id);
    const std::vector<token_t> want(full[p].begin(), it == full[p].end() ? it : it + 1);
    CHECK(stopped[p] == want);
    if (want.size() < 9) some_cut = true;
  }
  CHECK(some_cut);
  CHECK(stopped[1].size() <= 3);

  // A prompt of n_positions - max_new_tokens tokens fills the context exactly.
  g.eos_token_id = -1;
  const auto longest = generate(model, {test::random_tokens(config.n_positions - 9, V, 55)}, g);
  CHECK(longest[0].size() == 9);
}

TEST_CASE("generation and decode reject bad input with ArgumentError", "[model][cpu][generate]") {
  const Gpt2Config config = generation_config();
  Gpt2<test::TestDevice, float> model(config, test::TestDevice{}, GradientMemory::none);
  model.init_random(15);
  const index_t V = config.vocab_size;
  GenerationConfig g;
  g.max_new_tokens = 4;
  CHECK_THROWS_AS(generate(model, {{1, 2}}, g), ArgumentError);  // default EOS 50256 outside vocab 13
  g.eos_token_id = 0;
  CHECK(generate(model, {}, g).empty());
  CHECK_THROWS_AS(generate(model, {{}}, g), ArgumentError);
  CHECK_THROWS_AS(generate(model, {{1, static_cast<token_t>(V)}}, g), ArgumentError);
  CHECK_THROWS_AS(generate(model, {{1, -1}}, g), ArgumentError);
  CHECK_THROWS_WITH(generate(model, {test::random_tokens(config.n_positions - 3, V, 1)}, g),
                    Catch::Contains("n_positions=16") && Catch::Contains("at most 12 prompt tokens"));
  auto bad = [&](auto&& edit) {
    GenerationConfig b = g;
    edit(b);
    CHECK_THROWS_AS(b.validate(), ArgumentError);
    CHECK_THROWS_AS(generate(model, {{1}}, b), ArgumentError);
  };
  bad([](GenerationConfig& b) { b.max_new_tokens = 0; });
  bad([](GenerationConfig& b) { b.temperature = 0; });
  bad([](GenerationConfig& b) { b.temperature = std::nan(""); });
  bad([](GenerationConfig& b) { b.top_k = -1; });
  bad([](GenerationConfig& b) { b.top_p = 1.5; });
  bad([](GenerationConfig& b) { b.top_p = -0.1; });

  KvCache<test::TestDevice, float> cache(config, 2, 4);
  test::Vector<float> logits(2 * static_cast<std::size_t>(V));
  CHECK_THROWS_AS(model.decode(cache, {2}, {1}, logits.data()), ArgumentError);           // no such slot
  CHECK_THROWS_AS(model.decode(cache, {0, 0}, {1, 2}, logits.data()), ArgumentError);     // slot twice
  CHECK_THROWS_AS(model.decode(cache, {0}, {1, 2}, logits.data()), ArgumentError);        // sizes
  CHECK_THROWS_AS(model.decode(cache, {0}, {1, 2, 3, 4, 5}, {0, 5}, logits.data()), ArgumentError);  // > max_len
  CHECK_THROWS_AS(model.decode(cache, {0, 1}, {1, 2}, {0, 2, 2}, logits.data()), ArgumentError);     // empty
  CHECK_THROWS_AS(model.decode(cache, {0}, {static_cast<token_t>(V)}, logits.data()), ArgumentError);
  CHECK(cache.length(0) == 0);  // failed calls leave the cache alone
  Gpt2Config other = config;
  other.n_layer = 3;
  KvCache<test::TestDevice, float> wrong(other, 1, 4);
  CHECK_THROWS_AS(model.decode(wrong, {0}, {1}, logits.data()), ArgumentError);
  CHECK_THROWS_AS((KvCache<test::TestDevice, float>(config, 1, config.n_positions + 1)), ArgumentError);
  CHECK_THROWS_AS((KvCache<test::TestDevice, float>(config, 0, 4)), ArgumentError);
  KvCache<test::TestDevice, float> small(config, 1, 3);
  CHECK_THROWS_AS(generate(model, {{1}, {2}}, g, small), ArgumentError);  // too few slots
  CHECK_THROWS_AS(generate(model, {{1}}, g, small), ArgumentError);       // too short: needs 1 + 4 - 1
}
