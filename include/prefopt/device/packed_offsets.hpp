// SPDX-License-Identifier: MIT
// Where a packed batch's sequences lie, as the attention kernels read it (device/cpu/attention.hpp
// gives the buffers' layout): the token offsets (n_seq + 1) and the start of each sequence's
// (n_head, L, L) score block (n_seq + 1), in the device's memory for the kernels and the same
// values in host memory for the host code that drives them. A GPU device issues its attention
// GEMMs per sequence from the host; with the host copy at hand it never reads device memory
// back in the middle of a training step (each read would wait for the GPU to drain its queue).
#pragma once

#include "prefopt/core/types.hpp"

namespace prefopt {

struct PackedOffsets {
  const index_t* seq = nullptr;       ///< device memory: sequence s covers rows [seq[s], seq[s+1])
  const index_t* att = nullptr;       ///< device memory: att[s] = n_head · Σ_{s'<s} L_{s'}²
  const index_t* host_seq = nullptr;  ///< host memory: the values of seq
  const index_t* host_att = nullptr;  ///< host memory: the values of att
  index_t n_seq = 0;

  /// For memory the host can read (the CPU and OpenMP devices, managed memory): one set serves both.
  static PackedOffsets host_visible(const index_t* seq, const index_t* att, index_t n_seq) {
    return PackedOffsets{seq, att, seq, att, n_seq};
  }
  /// The number of tokens the offsets cover (read on the host).
  index_t n_tokens() const noexcept { return n_seq > 0 ? host_seq[n_seq] : 0; }
};

}  // namespace prefopt
