// SPDX-License-Identifier: MIT
// MpiLaunch: a program's main() side of data parallelism (docs/distributed.md) — MPI only when
// started by a launcher (mpirun, srun), the rank/world line, quiet stdout on ranks other than 0,
// and an error on any rank turned into MPI_Abort instead of the other ranks waiting forever.
#pragma once

#include <unistd.h>

#include <exception>
#include <iostream>
#include <optional>
#include <streambuf>
#include <string>

#include "prefopt/train/mpi_comm.hpp"

namespace prefopt {

/// What a program's main() does for data parallelism: initialize MPI when started by mpirun/srun
/// (else stay a single process and never touch MPI), say which rank this is, keep stdout to rank 0,
/// and run the program so that an exception on any rank brings the whole job down with its
/// message instead of leaving the other ranks waiting in a collective:
///
///   int main(int argc, char** argv) {
///     prefopt::MpiLaunch launch(argc, argv);
///     return launch.run("prefopt", [&](prefopt::MpiComm& comm) { ...; return 0; });
///   }
class MpiLaunch {
 public:
  MpiLaunch(int& argc, char**& argv) : comm_(MpiComm::single_process()) {
    if (MpiEnvironment::launched_by_mpi()) {
      environment_.emplace(argc, argv);
      comm_ = MpiComm();
    }
  }

  MpiComm& comm() noexcept { return comm_; }
  bool distributed() const noexcept { return comm_.world_size() > 1; }

  /// "[program] rank r of W (MPI, host, pid)" on stderr, from every rank of a distributed job.
  void announce(const char* program) const {
    if (!distributed()) return;
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '?';
    const std::string line = "[" + std::string(program) + "] rank " + std::to_string(comm_.rank()) + " of " +
                             std::to_string(comm_.world_size()) + " (MPI, host " + host + ", pid " +
                             std::to_string(getpid()) + ")\n";
    std::cerr << line << std::flush;  // one write: the ranks' lines do not interleave
  }

  /// Runs body(comm). On rank != 0 of a distributed job stdout is discarded (rank 0 speaks for the
  /// job; errors and the rank line still go to stderr). An exception is printed with the rank and,
  /// in a distributed job, aborts every rank with exit status `error_status`.
  template <class Body>
  int run(const char* program, Body&& body, int error_status = 1) {
    announce(program);
    std::streambuf* saved = std::cout.rdbuf();
    if (distributed() && comm_.rank() != 0) std::cout.rdbuf(null_buffer());
    int status = 0;
    try {
      status = body(comm_);
    } catch (const std::exception& e) {
      std::cout.rdbuf(saved);
      std::cerr << std::string(program) + ": error" + where() + ": " + e.what() + "\n" << std::flush;
      fail(error_status);
      return error_status;
    }
    std::cout.rdbuf(saved);
    if (distributed()) {
      // A rank that returns an error status while others succeed must still end the job.
      double failed = status != 0 ? 1.0 : 0.0;
      comm_.all_reduce_sum(&failed, 1);
      if (failed > 0 && status != 0) fail(status);
    }
    return status;
  }

  /// Takes the job down (distributed) or does nothing (single process: main returns the status).
  void fail(int status) noexcept {
    std::cerr.flush();
    if (distributed()) comm_.abort(status);
  }

  /// " on rank r of W" in a distributed job, else "".
  std::string where() const {
    return distributed() ? " on rank " + std::to_string(comm_.rank()) + " of " + std::to_string(comm_.world_size()) : "";
  }

 private:
  static std::streambuf* null_buffer() {
    struct Null : std::streambuf {
      int overflow(int c) override { return c; }
    };
    static Null null;
    return &null;
  }

  std::optional<MpiEnvironment> environment_;
  MpiComm comm_;
};

}  // namespace prefopt
