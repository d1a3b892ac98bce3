// SPDX-License-Identifier: MIT
// The device a device-generic test suite runs on. The same sources build twice: as the CPU
// device's tests, and with PREFOPT_TEST_THRUST_OMP as the tests of the CUDA device's thrust code on
// thrust's OpenMP backend (OmpDevice; CTest label thrust_omp). Both devices' memory is host
// memory, so the suites may read buffers directly.
#pragma once

#if defined(PREFOPT_TEST_THRUST_OMP)
#include "prefopt/device/omp.hpp"
namespace prefopt::test {
using TestDevice = OmpDevice;
}
#else
#include "prefopt/device/cpu.hpp"
namespace prefopt::test {
using TestDevice = CpuDevice;
}
#endif
