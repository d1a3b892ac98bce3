// SPDX-License-Identifier: MIT
// Helpers of the io tests: scratch directories under the build tree, hand-made safetensors
// files (any dtype, any header, including malformed ones) and small random GPT-2 configs.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/types.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt::test {

/// A fresh, empty directory <build>/tests-tmp/io/<name>; never inside the source tree.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(PREFOPT_BINARY_DIR) / "tests-tmp" / "io" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string le64(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out;
}

/// A safetensors file from a literal header and data region (no padding, no checks).
inline std::string raw_safetensors(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

/// One tensor of a hand-made file: dtype spelled as in the header, data as raw little-endian bytes.
struct RawTensor {
  std::string name;
  std::string dtype;
  std::vector<index_t> shape;
  std::string bytes;
};

/// A valid safetensors file holding `tensors` back to back, in order.
inline std::string make_safetensors(const std::vector<RawTensor>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  return raw_safetensors(header.dump(), data);
}

template <class T>
std::string bytes_of(const std::vector<T>& values) {  // little-endian hosts (x86-64, aarch64)
  std::string out(sizeof(T) * values.size(), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

/// A random small GPT-2 shape; `rng` makes it reproducible.
inline Gpt2Config random_small_config(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Gpt2Config c;
  c.n_layer = pick(1, 3);
  c.n_head = pick(1, 3);
  c.n_embd = c.n_head * pick(1, 4);
  c.n_positions = pick(1, 9);
  c.vocab_size = pick(2, 13);
  c.n_inner = pick(0, 1) ? 0 : pick(1, 9);
  c.bos_token_id = c.eos_token_id = static_cast<token_t>(c.vocab_size - 1);
  return c;
}

/// A tiny fixed config for the malformed-checkpoint tests.
inline Gpt2Config tiny_config() {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 4;
  c.n_positions = 5;
  c.vocab_size = 7;
  c.bos_token_id = c.eos_token_id = 6;
  return c;
}

}  // namespace prefopt::test
