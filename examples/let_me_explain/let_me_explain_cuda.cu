// SPDX-License-Identifier: MIT
// The "Let me explain" experiment on the CUDA device (nvcc; CMake target let_me_explain_cuda).
// `let_me_explain_cuda --help` lists the options.
#include <cuda_runtime.h>

#include <iostream>

#include "command_line.hpp"
#include "prefopt/device/cuda.hpp"

int main(int argc, char** argv) {
  return let_me_explain::main_with<prefopt::CudaDevice>(argc, argv, [] {
    int n_devices = 0;
    if (cudaGetDeviceCount(&n_devices) != cudaSuccess || n_devices == 0) {
      cudaGetLastError();  // clear the sticky "no device" error
      std::cerr << "let_me_explain: no CUDA device: build and run the CPU version, build/examples/let_me_explain\n";
      return 1;
    }
    return 0;
  });
}
