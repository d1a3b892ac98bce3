// SPDX-License-Identifier: MIT
// libFuzzer target: GzipSource over arbitrary bytes. It must either deliver the whole stream or
// throw StreamError — never crash, hang, read out of bounds or return a short stream silently —
// and the bytes must not depend on the size of the reads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "prefopt/data/gzip_stream.hpp"

namespace {

// (true, the inflated bytes), or (false, what came before the StreamError).
std::pair<bool, std::string> inflate_all(std::string_view bytes, std::size_t chunk) {
  std::string out, buffer(chunk, '\0');
  try {
    prefopt::GzipSource source(std::make_unique<prefopt::MemorySource>(bytes, "fuzz.gz"));
    for (std::size_t k; (k = source.read(&buffer[0], chunk)) > 0;) {
      out.append(buffer, 0, k);
      if (out.size() > (std::size_t{64} << 20)) return {true, out};  // bombs: enough checked
    }
  } catch (const prefopt::StreamError&) {
    return {false, out};
  }
  return {true, out};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto [ok_large, large] = inflate_all(bytes, 65536);
  const auto [ok_small, small] = inflate_all(bytes, 1 + (size > 0 ? data[0] % 61 : 0));
  if (ok_large != ok_small) __builtin_trap();
  if (ok_large && large != small) __builtin_trap();
  return 0;
}
