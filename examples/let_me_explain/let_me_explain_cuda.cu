// SPDX-License-Identifier: MIT
// The "Let me explain" experiment on the CUDA device (nvcc; CMake target let_me_explain_cuda).
// `let_me_explain_cuda --help` lists the options; `mpirun -np <GPUs> let_me_explain_cuda ...`
// trains data parallel with NCCL (one rank per GPU) when prefopt was built with MPI and NCCL.
#include <cuda_runtime.h>

#include <exception>
#include <iostream>

#include "command_line.hpp"
#include "prefopt/device/cuda.hpp"
#if defined(PREFOPT_HAVE_NCCL)
#include "prefopt/train/mpi_launch.hpp"
#include "prefopt/train/nccl_comm.hpp"
#endif

int main(int argc, char** argv) {
  auto ready = [](const let_me_explain::Options& o) {
    int n_devices = 0;
    if (cudaGetDeviceCount(&n_devices) != cudaSuccess || n_devices == 0) {
      cudaGetLastError();  // clear the sticky "no device" error
      std::cerr << "let_me_explain: no CUDA device: build and run the CPU version, build/examples/let_me_explain\n";
      return 1;
    }
    using prefopt::CudaGemmPrecision;
    prefopt::set_cuda_gemm_precision(o.bf16 ? CudaGemmPrecision::bf16 : o.tf32 ? CudaGemmPrecision::tf32 : CudaGemmPrecision::fp32);
    std::cout << "CUDA GEMMs: "
              << (o.bf16   ? "bfloat16 tensor cores, float accumulation (--bf16)"
                  : o.tf32 ? "TF32 tensor cores (--tf32)"
                           : "float (strict fp32; --tf32 or --bf16 for tensor cores)")
              << "\n";
    return 0;
  };
#if defined(PREFOPT_HAVE_NCCL)
  prefopt::MpiLaunch launch(argc, argv);
  return launch.run("let_me_explain_cuda", [&](prefopt::MpiComm& mpi) {
    return let_me_explain::main_with<prefopt::CudaDevice>(argc, argv, ready, prefopt::NcclComm(mpi));
  });
#else
  try {
    return let_me_explain::main_with<prefopt::CudaDevice>(argc, argv, ready, prefopt::NoComm{});
  } catch (const std::exception& e) {
    std::cerr << "let_me_explain: error: " << e.what() << "\n";
    return 1;
  }
#endif
}
