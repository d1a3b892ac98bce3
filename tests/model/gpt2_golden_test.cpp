// SPDX-License-Identifier: MIT
// The C++ GPT-2 against golden values of an independent PyTorch implementation
// (tests/reference/gpt2_reference.py) on a random Hugging Face-format checkpoint:
// logits and log-probs to 1e-5 in float and 1e-10 in double, and the parameter gradient of a
// weighted log-prob objective in double.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>

#include "support/test_device.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/model/gpt2.hpp"

using namespace prefopt;
using json = nlohmann::json;

namespace {
const std::string fixtures = PREFOPT_FIXTURES_DIR;

json load_golden() {
  std::ifstream in(fixtures + "/gpt2_tiny_golden.json");
  REQUIRE(in.good());  // a missing fixture is a failure, never a skip
  return json::parse(in);
}

template <class Scalar>
void load_model(Gpt2<test::TestDevice, Scalar>& model) {
  std::vector<Scalar> host(model.num_parameters());
  load_hf_parameters(fixtures + "/gpt2_tiny", model.parameter_table(), host.data());
  model.set_parameters(host.data());
}

template <class Scalar>
void check_against_golden(const json& golden, const char* key, double tol) {
  const Gpt2Config config = load_hf_config(fixtures + "/gpt2_tiny");
  REQUIRE(config.n_layer == golden["config"]["n_layer"].get<index_t>());
  Gpt2<test::TestDevice, Scalar> model(config);
  load_model(model);
  const auto& expected = golden[key];
  const auto sequences = golden["sequences"].get<std::vector<std::vector<token_t>>>();
  PackedBatch batch;
  for (const auto& s : sequences) batch.add_sequence(s);
  test::Vector<Scalar> logps(batch.n_tokens());
  model.forward(batch, logps.data());
  test::Vector<Scalar> last(batch.n_sequences() * config.vocab_size);
  model.last_logits(batch, last.data());
  double worst = 0;
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const auto want = expected["token_logps"][s].get<std::vector<double>>();
    REQUIRE(want.size() == sequences[s].size() - 1);
    for (std::size_t t = 0; t < want.size(); ++t) {
      const double got = logps[batch.offsets[s] + static_cast<index_t>(t)];
      worst = std::max(worst, std::abs(got - want[t]) / std::max(1.0, std::abs(want[t])));
      CHECK(got == Approx(want[t]).epsilon(tol).margin(tol));
    }
    const auto want_logits = expected["last_logits"][s].get<std::vector<double>>();
    REQUIRE(static_cast<index_t>(want_logits.size()) == config.vocab_size);
    for (index_t v = 0; v < config.vocab_size; ++v) {
      const double got = last[s * config.vocab_size + v];
      worst = std::max(worst, std::abs(got - want_logits[v]) / std::max(1.0, std::abs(want_logits[v])));
      CHECK(got == Approx(want_logits[v]).epsilon(tol).margin(tol));
    }
  }
  INFO(key << ": worst error " << worst);
  CHECK(worst < tol);
}
}  // namespace

TEST_CASE("double GPT-2 matches the PyTorch reference to 1e-10", "[model][cpu][golden]") {
  check_against_golden<double>(load_golden(), "float64", 1e-10);
}

TEST_CASE("float GPT-2 matches the PyTorch reference to 1e-5", "[model][cpu][golden]") {
  check_against_golden<float>(load_golden(), "float32", 1e-5);
}

TEST_CASE("parameter gradients match the PyTorch reference", "[model][cpu][golden][grad]") {
  const json golden = load_golden();
  const Gpt2Config config = load_hf_config(fixtures + "/gpt2_tiny");
  Gpt2<test::TestDevice, double> model(config);
  load_model(model);
  const auto sequences = golden["sequences"].get<std::vector<std::vector<token_t>>>();
  const auto weights = golden["token_weights"].get<std::vector<std::vector<double>>>();
  PackedBatch batch;
  test::Vector<double> w;  // handed to the model: device-visible in the CUDA build
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    batch.add_sequence(sequences[s]);
    w.insert(w.end(), weights[s].begin(), weights[s].end());
    w.push_back(0.0);  // the last position has no target
  }
  test::Vector<double> logps(batch.n_tokens());
  model.zero_gradients();
  model.backward(model.forward(batch, logps.data()), w.data());
  double objective = 0;
  for (index_t i = 0; i < batch.n_tokens(); ++i) objective += w[i] * logps[i];
  CHECK(objective == Approx(golden["float64_objective"].get<double>()).epsilon(1e-10));

  const auto& grads = golden["float64_grad"];
  index_t tensors = 0;
  for (const auto& e : model.parameter_table().entries()) {
    const std::string& key = e.name;
    INFO("tensor " << key);
    REQUIRE(grads.contains(key));
    const double* g = model.gradients() + e.offset;
    double sum = 0, sumsq = 0;
    for (index_t i = 0; i < e.size; ++i) {
      sum += g[i];
      sumsq += g[i] * g[i];
    }
    const double scale = std::sqrt(grads[key]["sumsq"].get<double>() * static_cast<double>(e.size));
    CHECK(sumsq == Approx(grads[key]["sumsq"].get<double>()).epsilon(1e-9).margin(1e-20));
    CHECK(sum == Approx(grads[key]["sum"].get<double>()).margin(1e-10 * std::max(1.0, scale)));
    const auto head = grads[key]["head"].get<std::vector<double>>();
    for (std::size_t i = 0; i < head.size(); ++i) CHECK(g[i] == Approx(head[i]).epsilon(1e-9).margin(1e-13));
    ++tensors;
  }
  CHECK(tensors == static_cast<index_t>(grads.size()));
}
