// SPDX-License-Identifier: MIT
// Every kernel of the thrust device (the CPU device's set, device/cpu.hpp).
#pragma once

#include "prefopt/device/thrust/attention.hpp"
#include "prefopt/device/thrust/attention_decode.hpp"
#include "prefopt/device/thrust/elementwise.hpp"
#include "prefopt/device/thrust/layernorm.hpp"
#include "prefopt/device/thrust/matmul.hpp"
#include "prefopt/device/thrust/sequence_kernels.hpp"
#include "prefopt/device/thrust/thrust_device.hpp"
