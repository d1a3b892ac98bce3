// SPDX-License-Identifier: MIT
// Catch2's main for suites run under `mpirun -np N`: every rank runs every test case in the same
// order (the cases call collectives), and the job fails when any rank saw a failure.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "prefopt/train/mpi_comm.hpp"

int main(int argc, char** argv) {
  prefopt::MpiEnvironment mpi(argc, argv);
  prefopt::MpiComm comm;
  int failed = 0;
  {
    Catch::Session session;
    failed = session.run(argc, argv);
  }
  double failures = failed;
  comm.all_reduce_sum(&failures, 1);
  if (comm.rank() == 0)
    std::printf("[mpi] %d ranks, %g failed assertion(s) in total\n", comm.world_size(), failures);
  return failures > 0 ? 1 : 0;
}
