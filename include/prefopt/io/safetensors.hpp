// SPDX-License-Identifier: MIT
// Reader for the safetensors format (huggingface/safetensors, docs "Format"):
//
//   u64 N (little-endian) | N bytes of UTF-8 JSON header | data region
//   header = {"__metadata__": {str: str} (optional),
//             name: {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
//
// Offsets are bytes relative to the start of the data region, tensors are row-major and
// little-endian. The header is untrusted input: parse_safetensors_header() bounds its size,
// validates every entry and turns every failure into a CheckpointError naming the source, so
// a caller may read any tensor's [begin, end) without further checks. docs/checkpoints.md lists
// the rules; fuzz/fuzz_safetensors_header.cpp exercises them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/io/float16.hpp"
#include "prefopt/io/json_guard.hpp"
#include "prefopt/io/mapped_file.hpp"

namespace prefopt {

/// Element types of safetensors (the byte-sized ones; sub-byte F4/F6 types are not supported).
enum class Dtype : std::uint8_t {
  boolean, u8, i8, f8_e5m2, f8_e4m3, i16, u16, f16, bf16, i32, u32, f32, i64, u64, f64
};

namespace io_detail {
struct DtypeInfo {
  Dtype dtype;
  std::string_view name;  // spelling in the header
  std::size_t size;       // bytes per element
};
inline constexpr DtypeInfo dtype_infos[] = {
    {Dtype::boolean, "BOOL", 1}, {Dtype::u8, "U8", 1},   {Dtype::i8, "I8", 1},
    {Dtype::f8_e5m2, "F8_E5M2", 1}, {Dtype::f8_e4m3, "F8_E4M3", 1},
    {Dtype::i16, "I16", 2},      {Dtype::u16, "U16", 2}, {Dtype::f16, "F16", 2},
    {Dtype::bf16, "BF16", 2},    {Dtype::i32, "I32", 4}, {Dtype::u32, "U32", 4},
    {Dtype::f32, "F32", 4},      {Dtype::i64, "I64", 8}, {Dtype::u64, "U64", 8},
    {Dtype::f64, "F64", 8},
};
inline const DtypeInfo& dtype_info(Dtype d) { return dtype_infos[static_cast<int>(d)]; }
}  // namespace io_detail

inline std::string_view dtype_name(Dtype d) { return io_detail::dtype_info(d).name; }
inline std::size_t dtype_size(Dtype d) { return io_detail::dtype_info(d).size; }
inline std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const auto& info : io_detail::dtype_infos)
    if (info.name == name) return info.dtype;
  return std::nullopt;
}
/// True for the dtypes prefopt converts to float/double: F32, F16, BF16, F64.
inline bool is_readable_float(Dtype d) {
  return d == Dtype::f32 || d == Dtype::f16 || d == Dtype::bf16 || d == Dtype::f64;
}

/// The reference implementation's bound on N (safetensors MAX_HEADER_SIZE).
inline constexpr std::uint64_t safetensors_max_header_size = 100'000'000;

struct SafetensorsTensor {
  std::string name;
  Dtype dtype = Dtype::f32;
  std::vector<index_t> shape;  // empty for a scalar
  index_t numel = 0;           // product of shape (1 for a scalar)
  std::uint64_t begin = 0;     // byte offsets relative to the data region; end - begin ==
  std::uint64_t end = 0;       // numel * dtype_size(dtype)
};

struct SafetensorsHeader {
  std::uint64_t header_size = 0;  // N
  std::uint64_t data_size = 0;    // bytes after the header
  std::vector<SafetensorsTensor> tensors;  // sorted by begin offset
  std::map<std::string, std::string> metadata;

  std::uint64_t data_offset() const noexcept { return 8 + header_size; }
  const SafetensorsTensor* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

/// "[2, 3]" for error messages; shapes of more than 8 dimensions are shortened.
inline std::string shape_string(const std::vector<index_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size() && i < 8; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() > 8) s += ", ... (" + std::to_string(shape.size()) + " dimensions)";
  return s + "]";
}

namespace io_detail {

inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i]);
  return v;
}

inline std::string quoted(const std::string& name) { return "tensor \"" + clipped(name) + "\""; }

// Nesting deeper than this cannot occur in a valid header (root, tensor entry, shape array).
inline constexpr int safetensors_max_json_depth = 8;

inline SafetensorsTensor parse_tensor_entry(const std::string& name, const nlohmann::json& entry,
                                            std::uint64_t data_size, const std::string& source) {
  const auto fail = [&](const std::string& what) { throw CheckpointError(source, quoted(name) + ": " + what); };
  if (!entry.is_object()) fail("entry must be a JSON object with dtype, shape and data_offsets");
  const auto field = [&](const char* key) -> const nlohmann::json& {
    const auto it = entry.find(key);
    if (it == entry.end()) fail(std::string("missing \"") + key + "\"");
    return *it;
  };

  SafetensorsTensor t;
  t.name = name;
  const nlohmann::json& dtype = field("dtype");
  if (!dtype.is_string()) fail("\"dtype\" must be a string");
  const auto& dtype_text = dtype.get_ref<const std::string&>();
  const auto parsed_dtype = dtype_from_name(dtype_text);
  if (!parsed_dtype) {
    std::string known;
    for (const auto& info : dtype_infos) known += (known.empty() ? "" : ", ") + std::string(info.name);
    fail("unknown dtype \"" + dtype_text + "\" (known: " + known + ")");
  }
  t.dtype = *parsed_dtype;

  // Checked running product, as the reference implementation multiplies: a shape whose running
  // product leaves index_t (int64) is refused even if a later dimension is zero.
  const nlohmann::json& shape = field("shape");
  if (!shape.is_array()) fail("\"shape\" must be an array of non-negative integers");
  std::uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) fail("\"shape\" must be an array of non-negative integers");
    const auto dim = d.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()) ||
        (dim != 0 && numel > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()) / dim))
      fail("shape has more than 2^63 elements (overflow at dimension " + std::to_string(t.shape.size()) +
           " = " + std::to_string(dim) + ")");
    numel *= dim;
    t.shape.push_back(static_cast<index_t>(dim));
  }
  t.numel = static_cast<index_t>(numel);
  const std::uint64_t element_size = dtype_size(t.dtype);
  if (numel > std::numeric_limits<std::uint64_t>::max() / element_size)
    fail("shape " + shape_string(t.shape) + " has too many bytes (overflow)");
  const std::uint64_t nbytes = numel * element_size;

  const nlohmann::json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail("\"data_offsets\" must be [begin, end], two non-negative integers");
  t.begin = offsets[0].get<std::uint64_t>();
  t.end = offsets[1].get<std::uint64_t>();
  const std::string span = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) fail("data_offsets " + span + " end before they begin");
  if (t.end > data_size)
    fail("data_offsets " + span + " lie outside the data region (" + std::to_string(data_size) +
         " bytes; the file is truncated or the header is wrong)");
  if (t.end - t.begin != nbytes)
    fail("data_offsets " + span + " span " + std::to_string(t.end - t.begin) + " bytes but shape " +
         shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
         std::to_string(nbytes));
  return t;
}

}  // namespace io_detail

/// Parses and validates the header of a safetensors file held in memory: `data` points at the
/// whole file, `size` is its length. `source` names the file in error messages. Throws
/// CheckpointError (and nothing else) on any malformed input; on return every tensor's
/// [data_offset() + begin, data_offset() + end) lies inside [0, size) and no two tensors overlap.
inline SafetensorsHeader parse_safetensors_header(const std::byte* data, std::size_t size,
                                                  const std::string& source = "<memory>") {
  if (size < 8)
    throw CheckpointError(source, "file is too short for a safetensors header (" +
                                      std::to_string(size) + " bytes, need at least 8)");
  SafetensorsHeader header;
  header.header_size = io_detail::load_le64(data);
  if (header.header_size > safetensors_max_header_size)
    throw CheckpointError(source, "safetensors header length " + std::to_string(header.header_size) +
                                      " exceeds the limit of " +
                                      std::to_string(safetensors_max_header_size) + " bytes");
  if (header.header_size > size - 8)
    throw CheckpointError(source, "safetensors header length " + std::to_string(header.header_size) +
                                      " exceeds the file size (" + std::to_string(size) +
                                      " bytes); the file is truncated or not safetensors");
  header.data_size = size - 8 - header.header_size;

  const char* first = reinterpret_cast<const char*>(data + 8);
  const char* last = first + header.header_size;
  if (header.header_size == 0 || *first != '{')
    throw CheckpointError(source, "safetensors header must be a JSON object starting with '{'");
  // Repeated keys are refused: with nlohmann's last-one-wins, a second entry could shadow a tensor.
  const nlohmann::json root = parse_untrusted_json(first, last, io_detail::safetensors_max_json_depth,
                                                   DuplicateKeys::refuse, source, "safetensors header");
  if (!root.is_object())
    throw CheckpointError(source, "safetensors header must be a JSON object");

  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        throw CheckpointError(source, "\"__metadata__\" must be an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          throw CheckpointError(source, "\"__metadata__\" value of \"" + io_detail::clipped(mkey) + "\" must be a string");
        header.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    header.tensors.push_back(io_detail::parse_tensor_entry(key, value, header.data_size, source));
  }

  // Sorted by (begin, end), each tensor must start at or after the end of the one before; empty
  // tensors may share an offset.
  auto& tensors = header.tensors;
  std::sort(tensors.begin(), tensors.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].begin < tensors[i - 1].end)
      throw CheckpointError(
          source, "tensors \"" + tensors[i - 1].name + "\" [" + std::to_string(tensors[i - 1].begin) +
                      ", " + std::to_string(tensors[i - 1].end) + "] and \"" + tensors[i].name + "\" [" +
                      std::to_string(tensors[i].begin) + ", " + std::to_string(tensors[i].end) +
                      "] overlap in the data region");
  return header;
}

namespace io_detail {
inline std::uint16_t load_le16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(static_cast<unsigned>(p[0]) | (static_cast<unsigned>(p[1]) << 8));
}
inline std::uint32_t load_le32(const std::byte* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
template <class Scalar>
Scalar from_double(double d) noexcept {
  if constexpr (std::is_same_v<Scalar, float>) return double_to_float(d);
  else return d;
}
}  // namespace io_detail

/// Converts elements [first, first + count) of `tensor` to Scalar (float or double).
/// `tensor_bytes` points at the tensor's first byte. F16/BF16/F32 -> float/double and F64 ->
/// double are exact; F64 -> float rounds to nearest. Other dtypes throw CheckpointError.
template <class Scalar>
void convert_tensor(const SafetensorsTensor& tensor, const std::byte* tensor_bytes, index_t first,
                    index_t count, Scalar* out, const std::string& source) {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "prefopt::convert_tensor: Scalar must be float or double");
  if (first < 0 || count < 0 || first > tensor.numel || count > tensor.numel - first)
    throw ArgumentError("convert_tensor: range [" + std::to_string(first) + ", +" +
                        std::to_string(count) + ") outside tensor \"" + tensor.name + "\"");
  const std::size_t n = static_cast<std::size_t>(count);
  const std::byte* p = tensor_bytes + static_cast<std::size_t>(first) * dtype_size(tensor.dtype);
  switch (tensor.dtype) {
    case Dtype::f32:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Scalar>(io_detail::float_from_bits(io_detail::load_le32(p + 4 * i)));
      return;
    case Dtype::f16:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Scalar>(half_to_float(io_detail::load_le16(p + 2 * i)));
      return;
    case Dtype::bf16:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Scalar>(bfloat16_to_float(io_detail::load_le16(p + 2 * i)));
      return;
    case Dtype::f64:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t bits = io_detail::load_le64(p + 8 * i);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out[i] = io_detail::from_double<Scalar>(d);
      }
      return;
    default:
      throw CheckpointError(source, io_detail::quoted(tensor.name) + " has dtype " +
                                        std::string(dtype_name(tensor.dtype)) +
                                        "; prefopt reads only F32, F16, BF16 and F64 tensors");
  }
}

/// A safetensors file mapped into memory with its validated header.
class SafetensorsFile {
 public:
  /// Maps and validates `path`; throws CheckpointError naming it.
  explicit SafetensorsFile(const std::filesystem::path& path)
      : file_(path), header_(parse_safetensors_header(file_.data(), file_.size(), path.string())) {}

  const SafetensorsHeader& header() const noexcept { return header_; }
  const std::vector<SafetensorsTensor>& tensors() const noexcept { return header_.tensors; }
  const SafetensorsTensor* find(std::string_view name) const { return header_.find(name); }
  const std::filesystem::path& path() const noexcept { return file_.path(); }

  /// First byte of `tensor`'s data (valid while this object lives).
  const std::byte* bytes(const SafetensorsTensor& tensor) const noexcept {
    return file_.data() + header_.data_offset() + tensor.begin;
  }
  /// All elements of `tensor` into out[0, tensor.numel).
  template <class Scalar>
  void read(const SafetensorsTensor& tensor, Scalar* out) const {
    convert_tensor(tensor, bytes(tensor), 0, tensor.numel, out, path().string());
  }
  /// The tensor named `name`, converted; throws CheckpointError when absent.
  template <class Scalar>
  std::vector<Scalar> read(std::string_view name) const {
    const SafetensorsTensor* t = find(name);
    if (t == nullptr)
      throw CheckpointError(path().string(), io_detail::quoted(std::string(name)) + " not found");
    std::vector<Scalar> out(static_cast<std::size_t>(t->numel));
    read(*t, out.data());
    return out;
  }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
};

}  // namespace prefopt
