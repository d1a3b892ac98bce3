// SPDX-License-Identifier: MIT
// Writer for safetensors files of F32 tensors, laid out as the reference implementation
// (huggingface/safetensors, safetensors/src/tensor.rs `prepare`/`serialize`) lays them out:
// compact JSON header, "__metadata__" first, then each tensor's {"dtype","shape","data_offsets"};
// the header is padded with spaces to a multiple of 8 bytes so the data region starts aligned;
// tensor data back to back in the order given, little-endian.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/float16.hpp"

namespace prefopt {

/// A tensor to write: name, row-major shape and a pointer to its elements (host memory).
template <class Scalar>
struct NamedTensor {
  std::string name;
  std::vector<index_t> shape;
  const Scalar* data = nullptr;
};

/// What transformers' save_pretrained puts in "__metadata__" for PyTorch weights.
inline std::map<std::string, std::string> pytorch_safetensors_metadata() { return {{"format", "pt"}}; }

namespace io_detail {
inline std::uint64_t checked_numel(const std::string& name, const std::vector<index_t>& shape) {
  std::uint64_t n = 1;
  for (index_t d : shape) {
    if (d < 0) throw ArgumentError("safetensors writer: tensor \"" + name + "\" has a negative dimension");
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}
}  // namespace io_detail

/// The 8-byte length prefix plus the padded JSON header for `tensors` stored as F32 in order.
/// Throws ArgumentError for duplicate or reserved names and negative dimensions.
template <class Scalar>
std::string safetensors_f32_header(const std::vector<NamedTensor<Scalar>>& tensors,
                                   const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      throw ArgumentError("safetensors writer: tensor name \"" + t.name + "\" is reserved or repeated");
    const std::uint64_t nbytes = io_detail::checked_numel(t.name, t.shape) * 4;
    if (nbytes > 0 && t.data == nullptr)
      throw ArgumentError("safetensors writer: tensor \"" + t.name + "\" has no data");
    nlohmann::ordered_json entry;
    entry["dtype"] = "F32";
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + nbytes};
    header[t.name] = std::move(entry);
    offset += nbytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json;
}

/// Streams a complete safetensors file to `out`: header, then each tensor converted to F32
/// little-endian (double values are rounded to nearest; floats are copied bit for bit).
template <class Scalar>
void write_safetensors_f32(FileWriter& out, const std::vector<NamedTensor<Scalar>>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "prefopt::write_safetensors_f32: Scalar must be float or double");
  out.write(safetensors_f32_header(tensors, metadata));
  constexpr std::size_t chunk = 1 << 16;  // elements per write
  std::vector<unsigned char> buffer(4 * chunk);
  for (const auto& t : tensors) {
    const std::uint64_t numel = io_detail::checked_numel(t.name, t.shape);
    for (std::uint64_t first = 0; first < numel; first += chunk) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, numel - first));
      for (std::size_t i = 0; i < n; ++i) {
        float f;
        if constexpr (std::is_same_v<Scalar, float>) f = t.data[first + i];
        else f = double_to_float(t.data[first + i]);
        std::uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        for (int b = 0; b < 4; ++b) buffer[4 * i + static_cast<std::size_t>(b)] = static_cast<unsigned char>(bits >> (8 * b));
      }
      out.write(buffer.data(), 4 * n);
    }
  }
}

/// Writes `tensors` as an F32 safetensors file at `path`, atomically (write_file_atomically).
template <class Scalar>
void save_safetensors_f32(const std::filesystem::path& path,
                          const std::vector<NamedTensor<Scalar>>& tensors,
                          const std::map<std::string, std::string>& metadata = pytorch_safetensors_metadata()) {
  write_file_atomically(path, [&](FileWriter& out) { write_safetensors_f32(out, tensors, metadata); });
}

}  // namespace prefopt
