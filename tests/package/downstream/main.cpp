// SPDX-License-Identifier: MIT
// Downstream smoke test: prefopt's headers compile in a foreign project through the
// prefopt::prefopt target and compute GPT-2 124M's parameter count.
#include <cstdio>

#include <prefopt/model/parameter_table.hpp>

int main() {
  const prefopt::ParameterTable table(prefopt::Gpt2Config::gpt2_124m());
  const long long count = static_cast<long long>(table.total_size());
  constexpr long long expected = 124439808;  // Hugging Face gpt2 ("124M")
  std::printf("prefopt downstream: GPT-2 124M has %lld parameters (expected %lld)\n", count, expected);
  return count == expected ? 0 : 1;
}
