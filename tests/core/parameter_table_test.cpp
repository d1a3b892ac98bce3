// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include "prefopt/model/parameter_table.hpp"

using namespace prefopt;

TEST_CASE("GPT-2 124M has the seed's parameter count", "[core][model]") {
  ParameterTable table(Gpt2Config::gpt2_124m());
  CHECK(table.total_size() == 124439808);
  CHECK(table.entries().size() == 2 + 12 * 12 + 2);
}

TEST_CASE("parameter table tiles the block without gaps, in Hugging Face order", "[core][model]") {
  Gpt2Config c;
  c.n_layer = 2; c.n_head = 2; c.n_embd = 8; c.n_positions = 16; c.vocab_size = 11;
  ParameterTable table(c);
  index_t next = 0;
  for (const auto& e : table.entries()) {
    CHECK(e.offset == next);
    next += e.size;
  }
  CHECK(next == table.total_size());
  CHECK(table.entries()[2].name == "h.0.ln_1.weight");
  CHECK(table.layer(1, LayerTensor::mlp_c_fc_weight).name == "h.1.mlp.c_fc.weight");
  CHECK(table.layer(1, LayerTensor::mlp_c_fc_weight).shape == std::vector<index_t>{8, 32});
  REQUIRE(table.find("transformer.h.1.attn.c_attn.bias") != nullptr);
  CHECK(table.find("transformer.h.1.attn.c_attn.bias")->shape == std::vector<index_t>{24});
  CHECK(table.find("h.2.ln_1.weight") == nullptr);
  CHECK(table.global(GlobalTensor::ln_f_bias).name == "ln_f.bias");
}

TEST_CASE("invalid configurations are refused with a message", "[core][model]") {
  Gpt2Config c;
  c.n_embd = 10; c.n_head = 3;
  CHECK_THROWS_WITH(ParameterTable(c), Catch::Contains("multiple of n_head"));
}
