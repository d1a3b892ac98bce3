// SPDX-License-Identifier: MIT
// libFuzzer target for the config.json reader (prefopt/io/hf_config.hpp): any byte string must
// give a valid Gpt2Config or a CheckpointError; an accepted config must survive a write/read
// round trip unchanged. Build and run: docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "prefopt/io/hf_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const prefopt::Gpt2Config config =
        prefopt::parse_hf_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz-config.json");
    const prefopt::Gpt2Config back = prefopt::parse_hf_config(prefopt::hf_config_text(config), "round-trip");
    if (back != config || back.n_inner != config.n_inner || back.initializer_range != config.initializer_range)
      __builtin_trap();
  } catch (const prefopt::CheckpointError&) {
    // The documented way to refuse malformed input.
  }
  return 0;
}
