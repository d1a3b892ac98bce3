// SPDX-License-Identifier: MIT
// The CPU device: Eigen GEMMs on mapped buffers and OpenMP loops for everything else.
#pragma once

#include "prefopt/device/cpu/attention.hpp"
#include "prefopt/device/cpu/attention_decode.hpp"
#include "prefopt/device/cpu/cpu_device.hpp"
#include "prefopt/device/cpu/embedding.hpp"
#include "prefopt/device/cpu/gelu.hpp"
#include "prefopt/device/cpu/layernorm.hpp"
#include "prefopt/device/cpu/logsoftmax_gather.hpp"
#include "prefopt/device/cpu/matmul.hpp"
#include "prefopt/device/cpu/optimizer_kernels.hpp"
#include "prefopt/device/cpu/residual.hpp"
#include "prefopt/device/cpu/sequence_kernels.hpp"

namespace prefopt {
using cpu::CpuDevice;
}
