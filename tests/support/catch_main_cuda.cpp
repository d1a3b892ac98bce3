// SPDX-License-Identifier: MIT
// Catch2's main for the suites built for the GPU (PREFOPT_TEST_CUDA, prefopt_add_device_test's
// <name>_cuda variant). Listing the tests (CTest's discovery, at build time) needs no GPU; a run
// without a CUDA device prints why and exits 77, which CTest reports as skipped — never passed.
// Host code only (the CUDA runtime's C API), so the host compiler builds it, once, not nvcc per
// GPU architecture.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

namespace {
bool only_lists(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--list", 6) == 0 || std::strcmp(a, "-l") == 0 || std::strcmp(a, "-t") == 0 ||
        std::strcmp(a, "-h") == 0 || std::strcmp(a, "-?") == 0 || std::strcmp(a, "--help") == 0)
      return true;
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  if (!only_lists(argc, argv)) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      std::printf("SKIPPED: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "count 0");
      return 77;
    }
  }
  return Catch::Session().run(argc, argv);
}
