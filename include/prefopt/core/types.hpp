// SPDX-License-Identifier: MIT
// Fundamental index and token types shared by every part of prefopt.
#pragma once

#include <cstdint>

namespace prefopt {
using index_t = std::int64_t;  // sizes and indices
using token_t = std::int32_t;  // token ids; -1 marks "no target" in a packed batch

/// Target id meaning "no log-probability is wanted at this position" (prompt tokens,
/// the last token of a sequence). Such positions skip the vocabulary projection entirely.
inline constexpr token_t no_target = -1;

/// How a dense layer's weight is stored (both row-major):
///   in_out: (in, out), y = x W + b    — Hugging Face Conv1D (GPT-2's c_attn, c_proj, c_fc)
///   out_in: (out, in), y = x W^T + b  — torch Linear, and GPT-2's tied lm_head (wte)
enum class WeightLayout { in_out, out_in };
}  // namespace prefopt
