// SPDX-License-Identifier: MIT
// The "Let me explain" experiment on the CPU device. `let_me_explain --help` lists the options;
// `mpirun -np N let_me_explain ...` trains data parallel when prefopt was built with MPI.
#include <exception>
#include <iostream>

#include "command_line.hpp"
#include "prefopt/device/cpu.hpp"
#if defined(PREFOPT_HAVE_MPI)
#include "prefopt/train/mpi_launch.hpp"
#endif

int main(int argc, char** argv) {
  auto ready = [](const let_me_explain::Options& o) {
    if (o.tf32 || o.bf16) {
      std::cerr << "let_me_explain: " << (o.tf32 ? "--tf32" : "--bf16")
                << " is a CUDA option: run build/examples/let_me_explain_cuda\n";
      return 2;
    }
    return 0;
  };
#if defined(PREFOPT_HAVE_MPI)
  prefopt::MpiLaunch launch(argc, argv);
  return launch.run("let_me_explain", [&](prefopt::MpiComm& comm) {
    return let_me_explain::main_with<prefopt::CpuDevice>(argc, argv, ready, comm);
  });
#else
  try {
    return let_me_explain::main_with<prefopt::CpuDevice>(argc, argv, ready, prefopt::NoComm{});
  } catch (const std::exception& e) {
    std::cerr << "let_me_explain: error: " << e.what() << "\n";
    return 1;
  }
#endif
}
