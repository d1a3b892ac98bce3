// SPDX-License-Identifier: MIT
// Packing is exact: a packed batch gives each sequence's log-probs and gradients as if it ran
// alone, and no position ever sees a later token.
#include <catch2/catch.hpp>

#include "support/test_device.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/gpt2.hpp"
#include "support/gradcheck.hpp"
#include "tiny_model.hpp"

using namespace prefopt;

TEST_CASE("a packed batch equals each sequence run alone", "[model][cpu][packing]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> model(config);
  model.init_random(7);
  const auto seqs = test::tiny_sequences(config.vocab_size);
  const PackedBatch packed = test::pack(seqs);
  const auto random_weights = test::random_vector(packed.n_tokens(), 3);
  const test::Vector<double> weights(random_weights.begin(), random_weights.end());

  test::Vector<double> logps(packed.n_tokens());
  model.zero_gradients();
  model.backward(model.forward(packed, logps.data()), weights.data());
  const std::vector<double> packed_grads(model.gradients(), model.gradients() + model.num_parameters());

  std::vector<double> summed(packed_grads.size(), 0.0);
  for (std::size_t s = 0; s < seqs.size(); ++s) {
    const PackedBatch alone = test::pack({seqs[s]});
    const index_t o = packed.offsets[s];
    test::Vector<double> lp(alone.n_tokens()), w(weights.begin() + o, weights.begin() + o + alone.n_tokens());
    model.zero_gradients();
    model.backward(model.forward(alone, lp.data()), w.data());
    for (index_t i = 0; i < alone.n_tokens(); ++i) CHECK(lp[i] == Approx(logps[o + i]).epsilon(1e-13));
    for (std::size_t i = 0; i < summed.size(); ++i) summed[i] += model.gradients()[i];
  }
  for (std::size_t i = 0; i < summed.size(); ++i)
    CHECK(packed_grads[i] == Approx(summed[i]).epsilon(1e-11).margin(1e-14));
}

TEST_CASE("changing a later token never changes an earlier position", "[model][cpu][packing]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> model(config);
  model.init_random(8);
  auto seqs = test::tiny_sequences(config.vocab_size);
  const PackedBatch before = test::pack(seqs);
  test::Vector<double> a(before.n_tokens()), b(before.n_tokens());
  model.forward(before, a.data());
  // Change token 5 of sequence 2 (a 9-token sequence scored from 1).
  seqs[2].tokens[5] = (seqs[2].tokens[5] + 1) % config.vocab_size;
  const PackedBatch after = test::pack(seqs);
  model.forward(after, b.data());
  const index_t o = before.offsets[2];
  for (index_t i = 0; i < before.n_tokens(); ++i) {
    const bool may_change = i >= o + 4 && i < before.offsets[3];  // position 4 targets token 5
    if (!may_change) CHECK(b[i] == Approx(a[i]).epsilon(1e-14));
  }
  CHECK(b[o + 4] != a[o + 4]);
}

TEST_CASE("inference mode, training mode and last_logits agree", "[model][cpu]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> model(config);
  model.init_random(9);
  const auto seqs = test::tiny_sequences(config.vocab_size);
  PackedBatch batch;
  for (const auto& s : seqs) {
    // Explicit targets: also score the last position, against token 0.
    std::vector<token_t> t(s.tokens.begin() + 1, s.tokens.end());
    t.push_back(0);
    batch.add_sequence(s.tokens, t);
  }
  test::Vector<double> train(batch.n_tokens()), infer(batch.n_tokens());
  model.forward(batch, train.data());
  model.forward(batch, infer.data(), ForwardMode::inference);
  for (index_t i = 0; i < batch.n_tokens(); ++i) CHECK(infer[i] == Approx(train[i]).epsilon(1e-13));

  test::Vector<double> logits(batch.n_sequences() * config.vocab_size);
  model.last_logits(batch, logits.data());
  for (index_t s = 0; s < batch.n_sequences(); ++s) {
    const double* z = logits.data() + s * config.vocab_size;
    double m = z[0];
    for (index_t v = 1; v < config.vocab_size; ++v) m = std::max(m, z[v]);
    double sum = 0;
    for (index_t v = 0; v < config.vocab_size; ++v) sum += std::exp(z[v] - m);
    CHECK(z[0] - m - std::log(sum) == Approx(train[batch.offsets[s + 1] - 1]).epsilon(1e-12));
  }
}

TEST_CASE("the float model agrees with the double model", "[model][cpu]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> md(config);
  Gpt2<test::TestDevice, float> mf(config);
  md.init_random(10);
  std::vector<double> pd(md.num_parameters());
  md.get_parameters(pd.data());
  std::vector<float> pf(pd.begin(), pd.end());
  mf.set_parameters(pf.data());
  std::vector<double> pd_exact(pf.begin(), pf.end());
  md.set_parameters(pd_exact.data());
  const PackedBatch batch = test::pack(test::tiny_sequences(config.vocab_size));
  test::Vector<double> ld(batch.n_tokens());
  test::Vector<float> lf(batch.n_tokens());
  md.forward(batch, ld.data());
  mf.forward(batch, lf.data());
  for (index_t i = 0; i < batch.n_tokens(); ++i) CHECK(lf[i] == Approx(ld[i]).margin(1e-5));
}
