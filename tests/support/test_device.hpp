// SPDX-License-Identifier: MIT
// The device a device-generic test suite runs on. The same sources build four ways: as the CPU
// device's tests; with PREFOPT_TEST_THRUST_OMP as the tests of the CUDA device's thrust code on
// thrust's OpenMP backend (OmpDevice; CTest label thrust_omp); with PREFOPT_TEST_CUDA,
// compiled by nvcc, on a GPU (CudaManagedDevice, cuda_managed_device.hpp: CudaDevice's kernels
// over managed memory; CTest label cuda; skipped, exit 77, without a GPU — catch_main_cuda.cpp);
// and with PREFOPT_TEST_SIMT by the host compiler on SimtDevice (simt/simt_device.hpp: the same
// CudaDevice code, fast kernels and cuBLAS calls included, over a SIMT emulator; label simt).
// Every device's memory is host accessible, so the suites may read buffers directly; buffers a
// suite hands to kernels itself are test::Vector (managed memory in the CUDA build, a plain
// std::vector otherwise) and test::AlignedVector (the CPU device's 64-byte aligned vector).
#pragma once

#include <vector>

#if defined(PREFOPT_TEST_CUDA)
#include "support/cuda_managed_device.hpp"
namespace prefopt::test {
using TestDevice = CudaManagedDevice;
template <class T>
using Vector = std::vector<T, ManagedAllocator<T>>;
template <class T>
using AlignedVector = Vector<T>;  // cudaMallocManaged: 256-byte aligned
}  // namespace prefopt::test
#else
// Host memory on every other device.
#if defined(PREFOPT_TEST_SIMT)
#include "support/simt/simt_device.hpp"  // first: device/cuda/ reads CUDA's names from it
#include "prefopt/device/cpu/cpu_device.hpp"
#elif defined(PREFOPT_TEST_THRUST_OMP)
#include "prefopt/device/omp.hpp"
#else
#include "prefopt/device/cpu.hpp"
#endif
namespace prefopt::test {
#if defined(PREFOPT_TEST_SIMT)
using TestDevice = SimtDevice;
#elif defined(PREFOPT_TEST_THRUST_OMP)
using TestDevice = OmpDevice;
#else
using TestDevice = CpuDevice;
#endif
template <class T>
using Vector = std::vector<T>;
template <class T>
using AlignedVector = cpu::AlignedVector<T>;
}  // namespace prefopt::test
#endif
