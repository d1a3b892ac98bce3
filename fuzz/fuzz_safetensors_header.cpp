// SPDX-License-Identifier: MIT
// libFuzzer target for the safetensors header parser (prefopt/io/safetensors.hpp): any byte
// string must either parse into a header whose every tensor lies inside the buffer, without
// overlaps and with a byte length matching its shape, or be refused with a CheckpointError.
// Any other exception, a sanitizer report or a broken invariant (__builtin_trap) is a finding.
// Build and run: docs/fuzzing.md.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "prefopt/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  try {
    const prefopt::SafetensorsHeader header = prefopt::parse_safetensors_header(bytes, size, "fuzz-input");
    if (header.data_offset() + header.data_size != size) __builtin_trap();
    std::uint64_t previous_end = 0;
    for (const auto& t : header.tensors) {
      if (t.begin > t.end || t.end > header.data_size || t.begin < previous_end) __builtin_trap();
      if (t.end - t.begin != static_cast<std::uint64_t>(t.numel) * prefopt::dtype_size(t.dtype))
        __builtin_trap();
      previous_end = std::max(previous_end, t.end);
      if (!prefopt::is_readable_float(t.dtype)) continue;
      // Read every element through the same path the checkpoint loader uses.
      const std::byte* first = bytes + header.data_offset() + t.begin;
      std::vector<float> as_float(static_cast<std::size_t>(t.numel));
      prefopt::convert_tensor(t, first, 0, t.numel, as_float.data(), "fuzz-input");
      std::vector<double> as_double(static_cast<std::size_t>(t.numel));
      prefopt::convert_tensor(t, first, 0, t.numel, as_double.data(), "fuzz-input");
    }
  } catch (const prefopt::CheckpointError&) {
    // The documented way to refuse malformed input.
  }
  return 0;
}
