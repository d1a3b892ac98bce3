// SPDX-License-Identifier: MIT
// The whole model's backward against central finite differences, every parameter tensor by its
// Hugging Face name, on a 2-layer small-vocabulary GPT-2 in double precision.
#include <catch2/catch.hpp>

#include "support/test_device.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/gpt2.hpp"
#include "support/gradcheck.hpp"
#include "tiny_model.hpp"

using namespace prefopt;

TEST_CASE("GPT-2 backward matches central differences for every parameter tensor",
          "[model][cpu][grad]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> model(config);
  model.init_random(123);
  // Make biases and LayerNorm parameters non-trivial so their gradients are exercised.
  {
    auto noise = test::random_vector(model.num_parameters(), 5, 0.05);
    double* p = model.parameters();
    for (index_t i = 0; i < model.num_parameters(); ++i) p[i] += noise[i];
  }
  const PackedBatch batch = test::pack(test::tiny_sequences(config.vocab_size));
  const index_t N = batch.n_tokens();
  const auto random_weights = test::random_vector(N, 9);
  const test::Vector<double> weights(random_weights.begin(), random_weights.end());
  test::Vector<double> logps(N);

  auto loss = [&] {
    model.forward(batch, logps.data(), ForwardMode::inference);
    return test::dot(weights, logps.data());
  };
  model.zero_gradients();
  const ForwardRecord record = model.forward(batch, logps.data());
  model.backward(record, weights.data());
  const std::vector<double> analytic(model.gradients(), model.gradients() + model.num_parameters());

  double worst = 0;
  for (const auto& e : model.parameter_table().entries()) {
    const auto r = test::check_gradient(e.name, model.parameters() + e.offset, e.size,
                                        analytic.data() + e.offset, loss);
    worst = std::max(worst, r.worst_relative);
  }
  INFO("worst relative error over all tensors: " << worst);
  CHECK(worst < 1e-6);
}

TEST_CASE("backward accumulates and refuses a stale forward record", "[model][cpu]") {
  const Gpt2Config config = test::tiny_config();
  Gpt2<test::TestDevice, double> model(config);
  model.init_random(1);
  const PackedBatch batch = test::pack(test::tiny_sequences(config.vocab_size));
  test::Vector<double> logps(batch.n_tokens()), w(batch.n_tokens(), 1.0);
  model.zero_gradients();
  model.backward(model.forward(batch, logps.data()), w.data());
  const std::vector<double> once(model.gradients(), model.gradients() + model.num_parameters());
  const ForwardRecord r = model.forward(batch, logps.data());
  model.backward(r, w.data());
  for (index_t i = 0; i < model.num_parameters(); ++i)
    CHECK(model.gradients()[i] == Approx(2 * once[i]).epsilon(1e-12).margin(1e-15));
  CHECK_THROWS_WITH(model.backward(r, w.data()), Catch::Contains("not the latest"));
  const ForwardRecord inf = model.forward(batch, logps.data(), ForwardMode::inference);
  CHECK_THROWS(model.backward(inf, w.data()));
}

TEST_CASE("bad batches are refused with a message", "[model][cpu]") {
  Gpt2<test::TestDevice, double> model(test::tiny_config());
  test::Vector<double> out(64);
  PackedBatch b;
  b.add_sequence({1, 2, 13});
  CHECK_THROWS_WITH(model.forward(b, out.data()), Catch::Contains("outside the vocabulary"));
  PackedBatch long_batch;
  long_batch.add_sequence(std::vector<token_t>(17, 1));
  CHECK_THROWS_WITH(model.forward(long_batch, out.data()), Catch::Contains("n_positions=16"));
}
