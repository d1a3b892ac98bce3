// SPDX-License-Identifier: MIT
// Writes the seed corpora of the fuzzers: for fuzz_safetensors_header, small valid safetensors
// files made with prefopt's own writer plus hand-written headers for the dtypes and corner cases
// the writer never produces (F16, BF16, F64, integer dtypes, scalars, empty tensors, no
// metadata); for fuzz_hf_config, config.json files as prefopt and older transformers write them.
// Usage: make_seed_corpus <safetensors seed directory> <config seed directory>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "prefopt/io/hf_config.hpp"
#include "prefopt/io/safetensors_writer.hpp"

namespace {

void save(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir / name, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

// u64 length prefix + header (unpadded, as some writers do) + data.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string f32_file(const std::vector<prefopt::NamedTensor<float>>& tensors) {
  std::string bytes = prefopt::safetensors_f32_header(tensors, prefopt::pytorch_safetensors_metadata());
  for (const auto& t : tensors) {
    std::size_t n = 1;
    for (auto d : t.shape) n *= static_cast<std::size_t>(d);
    bytes.append(reinterpret_cast<const char*>(t.data), 4 * n);  // little-endian hosts only
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seed_corpus <safetensors seed directory> <config seed directory>\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  const std::vector<float> values = {1.0f, -2.5f, 0.0f, 3.25f, 1e-40f, -0.0f};
  save(dir, "f32_two_tensors.safetensors",
       f32_file({{"transformer.wte.weight", {2, 2}, values.data()}, {"transformer.ln_f.bias", {2}, values.data() + 4}}));
  save(dir, "f32_scalar_and_empty.safetensors",
       f32_file({{"scalar", {}, values.data()}, {"empty", {0, 3}, values.data()}}));
  save(dir, "no_tensors.safetensors", f32_file({}));
  // F16 1.0, 2^-24 (smallest subnormal), inf, NaN; BF16 1.0, -2.0.
  save(dir, "f16_bf16.safetensors",
       raw_file(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
                std::string("\x00\x3c\x01\x00\x00\x7c\x00\x7e\x80\x3f\x00\xc0", 12)));
  save(dir, "f64_i64_metadata.safetensors",
       raw_file(R"({"__metadata__":{"format":"pt","note":"x"},"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"i":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]}})",
                std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f\x07\x00\x00\x00\x00\x00\x00\x00", 16)));
  save(dir, "u8_bool_padded.safetensors",
       raw_file(R"({"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"BOOL","shape":[1],"data_offsets":[3,4]}}    )",
                std::string("\x01\x02\x03\x01", 4)));

  const std::filesystem::path config_dir = argv[2];
  std::filesystem::create_directories(config_dir);
  prefopt::Gpt2Config tiny;
  tiny.n_layer = 2;
  tiny.n_head = 2;
  tiny.n_embd = 8;
  tiny.n_positions = 16;
  tiny.vocab_size = 11;
  tiny.n_inner = 20;
  tiny.bos_token_id = tiny.eos_token_id = 10;
  save(config_dir, "gpt2_124m.json", prefopt::hf_config_text(prefopt::Gpt2Config::gpt2_124m()));
  save(config_dir, "tiny.json", prefopt::hf_config_text(tiny));
  save(config_dir, "old_style.json",
       R"({"activation_function": "gelu_pytorch_tanh", "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768,)"
       R"( "n_head": 12, "n_layer": 12, "vocab_size": 50257, "scale_attn_weights": true,)"
       R"( "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}})");
  std::cout << "seed corpora written to " << dir << " and " << config_dir << "\n";
  return 0;
}
