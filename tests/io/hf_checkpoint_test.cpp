// SPDX-License-Identifier: MIT
// Hugging Face checkpoint directories: bit-exact save/load, the name and storage variants HF
// produces, and a clear error for each way a checkpoint can be wrong.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/io/load_pretrained.hpp"

using namespace prefopt;
using namespace prefopt::test;
namespace fs = std::filesystem;

namespace {

// Random weights with the awkward values mixed in (signed zeros, subnormals, extremes).
std::vector<float> random_block(const ParameterTable& table, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> block(static_cast<std::size_t>(table.total_size()));
  for (auto& x : block) x = normal(rng);
  const float specials[] = {-0.0f, 0.0f, 1e-45f, -1e-40f, std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::lowest(), 1.0f};
  for (std::size_t i = 0; i < std::size(specials) && i < block.size(); ++i)
    block[(i * 7919) % block.size()] = specials[i];
  return block;
}

bool same_bits(const void* a, const void* b, std::size_t bytes) { return std::memcmp(a, b, bytes) == 0; }

// The tensors of `block` as F32 raw tensors named "transformer.<hf name>", in table order.
std::vector<RawTensor> raw_tensors(const ParameterTable& table, const std::vector<float>& block) {
  std::vector<RawTensor> out;
  for (const auto& e : table.entries()) {
    const std::vector<float> values(block.begin() + e.offset, block.begin() + e.offset + e.size);
    out.push_back({"transformer." + hf_tensor_name(e), "F32", e.shape, bytes_of(values)});
  }
  return out;
}

// A checkpoint directory with config.json and the given tensors in model.safetensors.
void write_checkpoint(const fs::path& dir, const Gpt2Config& config, const std::vector<RawTensor>& tensors) {
  write_hf_config(dir / "config.json", config);
  write_bytes(dir / "model.safetensors", make_safetensors(tensors));
}

RawTensor* find(std::vector<RawTensor>& tensors, const std::string& name) {
  for (auto& t : tensors)
    if (t.name == name) return &t;
  FAIL("no tensor " << name);
  return nullptr;
}

// Loads `dir` with the table of tiny_config() into a float block.
void load_tiny(const fs::path& dir) {
  const ParameterTable table(tiny_config());
  std::vector<float> block(static_cast<std::size_t>(table.total_size()));
  load_hf_parameters(dir, table, block.data());
}

}  // namespace

TEST_CASE("random small GPT-2 checkpoints round-trip bit for bit (float block)", "[io][checkpoint]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    const Gpt2Config config = random_small_config(rng);
    const ParameterTable table(config);
    const std::vector<float> block = random_block(table, 100 + static_cast<std::uint32_t>(round));
    const fs::path dir = scratch_dir("round_trip_float/" + std::to_string(round));
    save_hf_checkpoint(dir, table, block.data());

    CAPTURE(round, hf_config_text(config));
    const Gpt2Config loaded_config = load_hf_config(dir);
    REQUIRE(loaded_config == config);
    const ParameterTable loaded_table(loaded_config);
    REQUIRE(loaded_table.total_size() == table.total_size());
    std::vector<float> loaded(block.size(), 123.0f);
    load_hf_parameters(dir, loaded_table, loaded.data());
    CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(float)));

    // What transformers expects: prefixed names, tied lm_head omitted, format=pt.
    const SafetensorsFile file(dir / "model.safetensors");
    CHECK(file.find("transformer.wte.weight") != nullptr);
    CHECK(file.find("transformer.h.0.attn.c_attn.weight")->shape == std::vector<index_t>{config.n_embd, 3 * config.n_embd});
    CHECK(file.find("lm_head.weight") == nullptr);
    CHECK(file.tensors().size() == table.entries().size());
    CHECK(file.header().metadata.at("format") == "pt");
    for (const auto& t : file.tensors()) CHECK(t.dtype == Dtype::f32);
  }
}

TEST_CASE("double blocks round-trip bit for bit when their values are floats, and round otherwise", "[io][checkpoint]") {
  std::mt19937 rng(11);
  const Gpt2Config config = random_small_config(rng);
  const ParameterTable table(config);
  const std::vector<float> floats = random_block(table, 5);
  const std::vector<double> block(floats.begin(), floats.end());
  const fs::path dir = scratch_dir("round_trip_double");
  save_hf_checkpoint(dir, table, block.data());
  std::vector<double> loaded(block.size());
  load_hf_parameters(dir, table, loaded.data());
  CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(double)));

  std::vector<double> fine(block.size());
  for (std::size_t i = 0; i < fine.size(); ++i) fine[i] = 0.1 * static_cast<double>(i + 1);
  save_hf_checkpoint(dir, table, fine.data());
  load_hf_parameters(dir, table, loaded.data());
  for (std::size_t i = 0; i < fine.size(); ++i) REQUIRE(loaded[i] == static_cast<double>(static_cast<float>(fine[i])));
}

TEST_CASE("names with and without the transformer. prefix load; mask buffers are ignored", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  const std::vector<float> block = random_block(table, 3);
  const fs::path dir = scratch_dir("names");

  std::vector<RawTensor> plain = raw_tensors(table, block);
  for (auto& t : plain) t.name = t.name.substr(std::string("transformer.").size());
  // Older transformers saved the causal masks as buffers: h.N.attn.bias [1, 1, P, P] and masked_bias.
  plain.push_back({"h.0.attn.bias", "F32", {1, 1, 5, 5}, bytes_of(std::vector<float>(25, 1.0f))});
  plain.push_back({"transformer.h.1.attn.masked_bias", "F32", {}, bytes_of(std::vector<float>{-1e4f})});
  write_checkpoint(dir, config, plain);
  std::vector<float> loaded(block.size());
  load_hf_parameters(dir, table, loaded.data());
  CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(float)));

  write_checkpoint(dir, config, raw_tensors(table, block));
  std::fill(loaded.begin(), loaded.end(), 0.0f);
  load_hf_parameters(dir, table, loaded.data());
  CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(float)));

  std::vector<RawTensor> twice = raw_tensors(table, block);
  twice.push_back(twice.front());
  twice.back().name = "wte.weight";
  write_checkpoint(dir, config, twice);
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"wte.weight\" appears twice"));
}

TEST_CASE("BF16 and F16 checkpoints load exactly", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  std::mt19937 rng(17);
  for (const std::string dtype : {"BF16", "F16"}) {
    CAPTURE(dtype);
    std::vector<float> expected(static_cast<std::size_t>(table.total_size()));
    std::vector<RawTensor> tensors;
    for (const auto& e : table.entries()) {
      std::vector<std::uint16_t> bits(static_cast<std::size_t>(e.size));
      for (std::size_t i = 0; i < bits.size(); ++i) {
        std::uint16_t b;
        do {
          b = static_cast<std::uint16_t>(rng());
        } while (dtype == "F16" ? (b & 0x7C00) == 0x7C00 : (b & 0x7F80) == 0x7F80);  // finite only
        if (i == 0) b = 0x0001;  // a subnormal in every tensor
        bits[i] = b;
        expected[static_cast<std::size_t>(e.offset) + i] = dtype == "F16" ? half_to_float(b) : bfloat16_to_float(b);
      }
      tensors.push_back({"transformer." + hf_tensor_name(e), dtype, e.shape, bytes_of(bits)});
    }
    const fs::path dir = scratch_dir("half_" + dtype);
    write_checkpoint(dir, config, tensors);
    std::vector<float> loaded(expected.size());
    load_hf_parameters(dir, table, loaded.data());
    CHECK(same_bits(loaded.data(), expected.data(), expected.size() * sizeof(float)));
    std::vector<double> loaded_double(expected.size());
    load_hf_parameters(dir, table, loaded_double.data());
    for (std::size_t i = 0; i < expected.size(); ++i) REQUIRE(loaded_double[i] == static_cast<double>(expected[i]));
  }
}

TEST_CASE("sharded checkpoints load through model.safetensors.index.json", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  const std::vector<float> block = random_block(table, 23);
  const fs::path dir = scratch_dir("sharded");
  std::vector<RawTensor> all = raw_tensors(table, block);
  const std::size_t half = all.size() / 2;
  const std::vector<RawTensor> first(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(half));
  const std::vector<RawTensor> second(all.begin() + static_cast<std::ptrdiff_t>(half), all.end());
  write_hf_config(dir / "config.json", config);
  write_bytes(dir / "model-00001-of-00002.safetensors", make_safetensors(first));
  write_bytes(dir / "model-00002-of-00002.safetensors", make_safetensors(second));
  nlohmann::json index;
  index["metadata"] = {{"total_size", 4 * table.total_size()}};
  for (const auto& t : first) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
  for (const auto& t : second) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
  write_bytes(dir / "model.safetensors.index.json", index.dump(2));

  std::vector<float> loaded(block.size());
  load_hf_parameters(dir, table, loaded.data());
  CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(float)));

  nlohmann::json wrong = index;
  wrong["weight_map"][first.front().name] = "model-00002-of-00002.safetensors";
  write_bytes(dir / "model.safetensors.index.json", wrong.dump());
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("maps it to model-00002-of-00002.safetensors"));

  wrong = index;
  wrong["weight_map"][first.front().name] = "../model-00001-of-00002.safetensors";
  write_bytes(dir / "model.safetensors.index.json", wrong.dump());
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("not a file name inside the model directory"));

  write_bytes(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"weight_map\""));

  index["weight_map"]["transformer.wte.weight"] = "model-00003-of-00002.safetensors";
  write_bytes(dir / "model.safetensors.index.json", index.dump());
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("model-00003-of-00002.safetensors") && Catch::Contains("file not found"));
}

TEST_CASE("an lm_head.weight equal to wte loads, a different one is refused", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  const std::vector<float> block = random_block(table, 29);
  const fs::path dir = scratch_dir("lm_head");
  std::vector<RawTensor> tensors = raw_tensors(table, block);
  RawTensor lm_head = *find(tensors, "transformer.wte.weight");
  lm_head.name = "lm_head.weight";
  tensors.push_back(lm_head);
  write_checkpoint(dir, config, tensors);
  std::vector<float> loaded(block.size());
  load_hf_parameters(dir, table, loaded.data());
  CHECK(same_bits(loaded.data(), block.data(), block.size() * sizeof(float)));

  tensors.back().bytes[5] ^= 0x01;
  write_checkpoint(dir, config, tensors);
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"lm_head.weight\" differs from wte.weight"));

  tensors.back().shape = {4, 7};
  write_checkpoint(dir, config, tensors);
  CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("lm_head.weight\": expected shape [7, 4], found [4, 7]"));
}

TEST_CASE("tokenizer files are copied beside the weights", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  const std::vector<float> block = random_block(table, 31);
  const fs::path tok = scratch_dir("tokenizer_src");
  write_bytes(tok / "vocab.json", R"({"a": 0})");
  write_bytes(tok / "merges.txt", "#version: 0.2\n");
  write_bytes(tok / "unrelated.txt", "not copied");
  const fs::path out = scratch_dir("tokenizer_out") / "nested" / "checkpoint";
  save_hf_checkpoint(out, table, block.data(), tok);
  CHECK(read_bytes(out / "vocab.json") == R"({"a": 0})");
  CHECK(read_bytes(out / "merges.txt") == "#version: 0.2\n");
  CHECK_FALSE(fs::exists(out / "unrelated.txt"));
  CHECK_FALSE(fs::exists(out / "tokenizer.json"));
  CHECK(fs::exists(out / "config.json"));

  const fs::path empty = scratch_dir("tokenizer_empty");
  CHECK_THROWS_WITH(save_hf_checkpoint(out, table, block.data(), empty), Catch::Contains("no tokenizer files"));
  CHECK_THROWS_WITH(save_hf_checkpoint(out, table, block.data(), empty / "nope"),
                    Catch::Contains("tokenizer directory does not exist"));
}

TEST_CASE("broken checkpoint directories give clear errors", "[io][checkpoint]") {
  const Gpt2Config config = tiny_config();
  const ParameterTable table(config);
  const std::vector<float> block = random_block(table, 37);
  const fs::path dir = scratch_dir("broken");

  SECTION("missing directory") {
    CHECK_THROWS_WITH(load_hf_config(dir / "absent"), Catch::Contains("absent") && Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(load_tiny(dir / "absent"), Catch::Contains("model directory does not exist"));
    write_bytes(dir / "file", "x");
    CHECK_THROWS_WITH(load_hf_config(dir / "file"), Catch::Contains("is not a directory"));
  }
  SECTION("missing config.json") {
    CHECK_THROWS_WITH(load_hf_config(dir), Catch::Contains("config.json not found"));
  }
  SECTION("missing model.safetensors") {
    write_hf_config(dir / "config.json", config);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("no model.safetensors"));
  }
  SECTION("only pytorch_model.bin") {
    write_hf_config(dir / "config.json", config);
    write_bytes(dir / "pytorch_model.bin", "PK\x03\x04");
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("found pytorch_model.bin but no model.safetensors") &&
                                          Catch::Contains("safe_serialization=True"));
  }
  SECTION("truncated model.safetensors") {
    save_hf_checkpoint(dir, table, block.data());
    const std::string full = read_bytes(dir / "model.safetensors");
    write_bytes(dir / "model.safetensors", full.substr(0, full.size() - 1));
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("model.safetensors") && Catch::Contains("outside the data region"));
    write_bytes(dir / "model.safetensors", full.substr(0, 100));
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("exceeds the file size"));
  }
  SECTION("header length larger than the file") {
    write_hf_config(dir / "config.json", config);
    write_bytes(dir / "model.safetensors", le64(4096) + "{}");
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("header length 4096 exceeds the file size"));
  }
  SECTION("non-JSON header") {
    write_hf_config(dir / "config.json", config);
    write_bytes(dir / "model.safetensors", raw_safetensors("{\"transformer.wte.weight\": {dtype: F32}}", ""));
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("not valid JSON"));
  }
  SECTION("wrong shape") {
    std::vector<RawTensor> tensors = raw_tensors(table, block);
    find(tensors, "transformer.h.1.attn.c_attn.weight")->shape = {12, 4};
    write_checkpoint(dir, config, tensors);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"transformer.h.1.attn.c_attn.weight\": expected shape [4, 12], found [12, 4]"));
  }
  SECTION("unknown dtype") {
    std::vector<RawTensor> tensors = raw_tensors(table, block);
    find(tensors, "transformer.ln_f.bias")->dtype = "Q4_K";
    write_checkpoint(dir, config, tensors);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"transformer.ln_f.bias\"") && Catch::Contains("unknown dtype \"Q4_K\""));
  }
  SECTION("dtype prefopt cannot read") {
    std::vector<RawTensor> tensors = raw_tensors(table, block);
    find(tensors, "transformer.ln_f.bias")->dtype = "I32";
    write_checkpoint(dir, config, tensors);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("\"transformer.ln_f.bias\" has dtype I32"));
  }
  SECTION("missing tensor") {
    std::vector<RawTensor> tensors = raw_tensors(table, block);
    tensors.erase(tensors.end() - 3);  // h.1.mlp.c_proj.bias precedes ln_f.{weight,bias}
    write_checkpoint(dir, config, tensors);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("missing tensor \"h.1.mlp.c_proj.bias\""));
  }
  SECTION("unexpected tensor") {
    std::vector<RawTensor> tensors = raw_tensors(table, block);
    tensors.push_back({"transformer.h.2.ln_1.weight", "F32", {4}, bytes_of(std::vector<float>(4))});
    write_checkpoint(dir, config, tensors);
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("unexpected tensor \"transformer.h.2.ln_1.weight\""));
  }
  SECTION("overlapping offsets") {
    write_hf_config(dir / "config.json", config);
    write_bytes(dir / "model.safetensors",
                raw_safetensors(R"({"transformer.ln_f.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                R"("transformer.ln_f.bias":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                std::string(24, '\0')));
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("overlap"));
  }
  SECTION("offsets out of bounds") {
    write_hf_config(dir / "config.json", config);
    write_bytes(dir / "model.safetensors",
                raw_safetensors(R"({"transformer.ln_f.weight":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})",
                                std::string(24, '\0')));
    CHECK_THROWS_WITH(load_tiny(dir), Catch::Contains("data_offsets [16, 32] lie outside the data region (24 bytes"));
  }
  SECTION("config of another architecture") {
    write_hf_config(dir / "config.json", config);
    std::string text = read_bytes(dir / "config.json");
    text.replace(text.find("\"gpt2\""), 6, "\"gpt_neox\"");
    write_bytes(dir / "config.json", text);
    CHECK_THROWS_WITH(load_hf_config(dir), Catch::Contains("model_type is \"gpt_neox\""));
  }
}

TEST_CASE("the PyTorch-written tiny fixture checkpoint loads, and re-saving it keeps every value", "[io][checkpoint]") {
  // tests/reference/gpt2_reference.py writes this directory independently of prefopt (by hand,
  // in safetensors' name order, as GPT2LMHeadModel names the tensors).
  const fs::path fixture = fs::path(PREFOPT_FIXTURES_DIR) / "gpt2_tiny";
  REQUIRE(fs::exists(fixture / "model.safetensors"));
  const Gpt2Config config = load_hf_config(fixture);
  CHECK(config.n_layer == 2);
  CHECK(config.n_embd == 32);
  CHECK(config.vocab_size == 101);
  const ParameterTable table(config);
  std::vector<float> block(static_cast<std::size_t>(table.total_size()));
  load_hf_parameters(fixture, table, block.data());

  const SafetensorsFile original(fixture / "model.safetensors");
  for (const auto& e : table.entries()) {
    const auto values = original.read<float>("transformer." + hf_tensor_name(e));
    CAPTURE(e.name);
    REQUIRE(same_bits(values.data(), block.data() + e.offset, values.size() * sizeof(float)));
  }

  const fs::path dir = scratch_dir("fixture_resave");
  save_hf_checkpoint(dir, table, block.data());
  CHECK(load_hf_config(dir) == config);
  std::vector<float> again(block.size());
  load_hf_parameters(dir, table, again.data());
  CHECK(same_bits(again.data(), block.data(), block.size() * sizeof(float)));
  // The same tensors (names, shapes, dtypes) as the independent writer; only their order differs.
  const SafetensorsFile resaved(dir / "model.safetensors");
  REQUIRE(resaved.tensors().size() == original.tensors().size());
  for (const auto& t : original.tensors()) {
    CAPTURE(t.name);
    const SafetensorsTensor* mine = resaved.find(t.name);
    REQUIRE(mine != nullptr);
    CHECK(mine->shape == t.shape);
    CHECK(mine->dtype == t.dtype);
  }
  CHECK(resaved.header().metadata == original.header().metadata);
}

TEST_CASE("load_pretrained builds the saved model: same configuration, same weights bit for bit", "[io][cpu]") {
  using Model = prefopt::Gpt2<prefopt::CpuDevice, float>;
  prefopt::Gpt2Config config;
  config.n_layer = 2;
  config.n_head = 2;
  config.n_embd = 8;
  config.n_positions = 16;
  config.vocab_size = 13;
  config.bos_token_id = config.eos_token_id = 12;
  Model saved(config);
  saved.init_random(5);
  std::vector<float> weights(static_cast<std::size_t>(saved.num_parameters()));
  saved.get_parameters(weights.data());
  const auto dir = prefopt::test::scratch_dir("load_pretrained");
  prefopt::save_hf_checkpoint(dir, saved.parameter_table(), weights.data());

  const auto loaded = prefopt::load_pretrained<Model>(dir, prefopt::GradientMemory::none);
  CHECK(loaded->config().n_layer == 2);
  CHECK(loaded->config().vocab_size == 13);
  CHECK_FALSE(loaded->has_gradients());
  std::vector<float> back(weights.size());
  loaded->get_parameters(back.data());
  CHECK(std::memcmp(back.data(), weights.data(), weights.size() * sizeof(float)) == 0);
  CHECK_THROWS_AS(prefopt::load_pretrained<Model>(dir / "missing"), prefopt::Error);
}
