// SPDX-License-Identifier: MIT
// config.json <-> Gpt2Config: transformers' layout on write, strict refusals on read.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "prefopt/io/hf_config.hpp"

using namespace prefopt;
using namespace prefopt::test;

namespace {

// The config.json of the Hugging Face hub's "gpt2" model (GPT-2 124M), written the old way:
// n_ctx present, no n_inner, no scale_attn_* fields.
const char* const hub_gpt2_config = R"({
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 12,
  "n_positions": 1024,
  "resid_pdrop": 0.1,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
  "vocab_size": 50257
})";

Gpt2Config from_text(const std::string& text) { return gpt2_config_from_hf(nlohmann::json::parse(text), "config.json"); }

// The hub config with one field replaced (or removed when `value` is empty).
Gpt2Config with(const std::string& key, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(hub_gpt2_config);
  if (value.empty()) j.erase(key);
  else j[key] = nlohmann::json::parse(value);
  return gpt2_config_from_hf(j, "config.json");
}

}  // namespace

TEST_CASE("the hub's GPT-2 config.json reads as GPT-2 124M", "[io][config]") {
  const Gpt2Config c = from_text(hub_gpt2_config);
  CHECK(c == Gpt2Config::gpt2_124m());
  CHECK(c.n_inner == 0);
  CHECK(c.initializer_range == 0.02);
}

TEST_CASE("config.json is written as GPT2Config.save_pretrained writes it", "[io][config]") {
  const std::string expected = std::string(R"({
  "activation_function": "gelu_new",
  "architectures": [
    "GPT2LMHeadModel"
  ],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_inner": null,
  "n_layer": 12,
  "n_positions": 1024,
  "reorder_and_upcast_attn": false,
  "resid_pdrop": 0.1,
  "scale_attn_by_inverse_layer_idx": false,
  "scale_attn_weights": true,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "torch_dtype": "float32",
  "transformers_version": ")") + hf_transformers_version + R"(",
  "use_cache": true,
  "vocab_size": 50257
}
)";
  CHECK(hf_config_text(Gpt2Config::gpt2_124m()) == expected);
}

TEST_CASE("random small configs round-trip through config.json", "[io][config]") {
  const auto dir = scratch_dir("config_round_trip");
  std::mt19937 rng(20240607);
  for (int i = 0; i < 20; ++i) {
    Gpt2Config c = random_small_config(rng);
    c.layer_norm_epsilon = std::uniform_real_distribution<double>(1e-8, 1e-3)(rng);
    c.initializer_range = std::uniform_real_distribution<double>(0.001, 0.1)(rng);
    write_hf_config(dir / "config.json", c);
    const Gpt2Config back = read_hf_config(dir / "config.json");
    CAPTURE(i, hf_config_text(c));
    CHECK(back == c);
    CHECK(back.n_inner == c.n_inner);
    CHECK(back.initializer_range == c.initializer_range);
  }
}

TEST_CASE("field fallbacks follow transformers", "[io][config]") {
  CHECK(with("n_positions", "").n_positions == 1024);  // n_ctx, the old name
  CHECK(with("n_inner", "null").n_inner == 0);
  CHECK(with("n_inner", "1000").mlp_width() == 1000);
  CHECK(with("activation_function", "\"gelu_pytorch_tanh\"").n_layer == 12);
  CHECK(with("activation_function", "").n_layer == 12);   // GPT2Config's default is gelu_new
  CHECK(with("layer_norm_epsilon", "").layer_norm_epsilon == 1e-5);
  CHECK(with("scale_attn_weights", "true").n_layer == 12);
}

TEST_CASE("configs prefopt cannot compute exactly are refused", "[io][config]") {
  CHECK_THROWS_WITH(with("model_type", "\"llama\""), Catch::Contains("config.json") && Catch::Contains("model_type"));
  CHECK_THROWS_WITH(with("model_type", ""), Catch::Contains("model_type is missing"));
  CHECK_THROWS_WITH(with("activation_function", "\"gelu\""), Catch::Contains("activation_function \"gelu\""));
  CHECK_THROWS_WITH(with("activation_function", "\"relu\""), Catch::Contains("not supported"));
  CHECK_THROWS_WITH(with("scale_attn_weights", "false"), Catch::Contains("scale_attn_weights is false"));
  CHECK_THROWS_WITH(with("scale_attn_by_inverse_layer_idx", "true"),
                    Catch::Contains("scale_attn_by_inverse_layer_idx is true"));
  CHECK_THROWS_WITH(with("reorder_and_upcast_attn", "true"), Catch::Contains("reorder_and_upcast_attn is true"));
  CHECK_THROWS_WITH(with("add_cross_attention", "true"), Catch::Contains("add_cross_attention"));
}

TEST_CASE("malformed config fields are refused with the field named", "[io][config]") {
  CHECK_THROWS_WITH(with("n_embd", ""), Catch::Contains("lacks \"n_embd\""));
  CHECK_THROWS_WITH(with("n_layer", "\"12\""), Catch::Contains("\"n_layer\" must be an integer"));
  CHECK_THROWS_WITH(with("n_layer", "12.0"), Catch::Contains("\"n_layer\" must be an integer"));
  CHECK_THROWS_WITH(with("n_layer", "0"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(with("n_layer", "18446744073709551615"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(with("n_inner", "0"), Catch::Contains("\"n_inner\""));
  CHECK_THROWS_WITH(with("n_embd", "3000000000"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(with("n_layer", "2000000000"), Catch::Contains("limit of 2^48"));
  CHECK_THROWS_WITH(with("n_head", "7"), Catch::Contains("multiple of n_head"));
  CHECK_THROWS_WITH(with("bos_token_id", "null"), Catch::Contains("\"bos_token_id\" must be an integer"));
  CHECK_THROWS_WITH(with("eos_token_id", "60000"), Catch::Contains("eos_token_id = 60000 lies outside the vocabulary"));
  CHECK_THROWS_WITH(with("scale_attn_weights", "1"), Catch::Contains("must be true or false"));
  CHECK_THROWS_WITH(with("layer_norm_epsilon", "\"small\""), Catch::Contains("must be a number"));
  CHECK_THROWS_WITH(gpt2_config_from_hf(nlohmann::json::array(), "config.json"), Catch::Contains("JSON object"));

  CHECK_THROWS_WITH(parse_hf_config(std::string(100, '[') + std::string(100, ']'), "config.json"),
                    Catch::Contains("nests deeper than 64 levels"));
  // Python's json module, which transformers reads with, keeps the last of repeated keys.
  CHECK(parse_hf_config(R"({"model_type": "gpt2", "n_layer": 1, "n_layer": 3, "n_head": 1, "n_embd": 4,)"
                        R"( "vocab_size": 5, "n_positions": 6, "bos_token_id": 0, "eos_token_id": 0})",
                        "config.json")
            .n_layer == 3);

  const auto dir = scratch_dir("config_malformed");
  write_bytes(dir / "config.json", "{\"model_type\": \"gpt2\",");
  CHECK_THROWS_WITH(read_hf_config(dir / "config.json"), Catch::Contains("config.json is not valid JSON"));
  write_bytes(dir / "config.json", "");
  CHECK_THROWS_WITH(read_hf_config(dir / "config.json"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(read_hf_config(dir / "absent.json"), Catch::Contains("file not found"));
}
