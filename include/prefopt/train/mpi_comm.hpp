// SPDX-License-Identifier: MIT
// MpiComm: the trainer's communicator over MPI (docs/distributed.md). Ranks are MPI processes,
// started by `mpirun -np N ...` or `srun`; every collective is MPI's own (MPI_Allreduce,
// MPI_Bcast, MPI_Barrier), so the transport is whatever the MPI library picked for the job —
// shared memory on one machine, TCP or InfiniBand between machines.
//
// Errors: MPI's default handler aborts the job without a message; MpiEnvironment installs
// MPI_ERRORS_RETURN instead, every call's code is checked and turned into an MpiError naming the
// call, and a rank that fails for any reason calls abort(), i.e. MPI_Abort, which takes every other
// rank down (they would otherwise wait forever in the next collective).
//
// Gradients: all_reduce_sum(device, data, n) sums the gradient block in place, in buckets of
// MpiCommOptions::bucket_bytes (4 MiB). On host memory each bucket is one MPI_Allreduce(MPI_IN_PLACE) —
// the bucket bounds the MPI library's scratch memory, not the number of passes. On device memory
// (no CUDA-aware MPI assumed) the buckets go through two pinned-size host staging buffers and are
// pipelined: bucket k+1 is copied down while bucket k's MPI_Iallreduce is in flight.
//
// A program's main() side (MPI only when started by a launcher) is MpiLaunch, train/mpi_launch.hpp.
#pragma once

#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt {

/// An MPI call failed; the message names the call and MPI's description of the error.
class MpiError : public Error {
 public:
  using Error::Error;
};

namespace mpi_detail {
inline void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw MpiError(std::string("MPI error in ") + call + ": " + (length > 0 ? std::string(text, static_cast<std::size_t>(length)) : "code " + std::to_string(code)));
}
template <class Scalar>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "MpiComm: float or double data");
  return std::is_same_v<Scalar, float> ? MPI_FLOAT : MPI_DOUBLE;
}
}  // namespace mpi_detail

/// MPI_Init_thread / MPI_Finalize for the lifetime of this object (one per process, in main).
/// MPI_THREAD_FUNNELED: only the main thread calls MPI; OpenMP threads inside kernels never do.
class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv) {
    int initialized = 0;
    mpi_detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (initialized) return;  // someone else owns MPI (e.g. the host program)
    int provided = 0;
    mpi_detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owner_ = true;
    mpi_detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  }
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;
  ~MpiEnvironment() {
    if (!owner_) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  /// Whether this process was started by an MPI launcher (mpirun/mpiexec of Open MPI or MPICH,
  /// srun with PMI/PMIx). A program run on its own then stays a plain single process and never
  /// touches MPI, so it needs no launcher and pays nothing.
  static bool launched_by_mpi() noexcept {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
      if (std::getenv(var) != nullptr) return true;
    return false;
  }

 private:
  bool owner_ = false;
};

struct MpiCommOptions {
  // 4 MiB per all-reduce of the gradient block: on one machine (shared memory) 1-16 MiB buckets
  // reduce the 124M block 35% faster than 32 MiB or more (docs/distributed.md), and 4 MiB is still
  // hundreds of microseconds of transfer on a network, far above its latency.
  std::size_t bucket_bytes = std::size_t(4) << 20;
};

/// The communicator of an MPI job. Copyable (it refers to the MPI communicator, which it does not
/// own). An "inactive" MpiComm (MpiComm::single_process()) is one rank of one and never calls MPI,
/// for programs that use MPI only when launched by mpirun.
class MpiComm {
 public:
  static constexpr const char* name = "mpi";

  /// MPI_COMM_WORLD (or `comm`) of an initialized MPI (see MpiEnvironment).
  explicit MpiComm(MPI_Comm comm = MPI_COMM_WORLD, MpiCommOptions options = {}) : comm_(comm), options_(options) {
    int initialized = 0;
    mpi_detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    PREFOPT_CHECK(initialized, "MpiComm: MPI is not initialized (construct a prefopt::MpiEnvironment in main first)");
    mpi_detail::check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    mpi_detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    mpi_detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    PREFOPT_CHECK(options_.bucket_bytes >= sizeof(double), "MpiComm: bucket_bytes must hold at least one value");
    active_ = true;
  }

  /// Rank 0 of 1 without MPI: every collective is the identity (as NoComm).
  static MpiComm single_process() { return MpiComm(Inactive{}); }

  bool active() const noexcept { return active_; }
  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return size_; }
  MPI_Comm native() const noexcept { return comm_; }
  const MpiCommOptions& options() const noexcept { return options_; }
  /// Wall time of the last device all_reduce_sum (the gradient block), for logs and benchmarks.
  double last_all_reduce_seconds() const noexcept { return last_seconds_; }

  /// Sums `n` values of device memory across ranks, in place.
  template <class Device, class Scalar>
  void all_reduce_sum(const Device& device, Scalar* data, index_t n) {
    if (!active_ || size_ == 1 || n <= 0) return;
    const auto t0 = std::chrono::steady_clock::now();
    const index_t bucket = bucket_elements<Scalar>();
    if constexpr (Device::host_accessible) {
      (void)device;
      for (index_t first = 0; first < n; first += bucket)
        mpi_detail::check(MPI_Allreduce(MPI_IN_PLACE, data + first, static_cast<int>(std::min(bucket, n - first)),
                                        mpi_detail::datatype<Scalar>(), MPI_SUM, comm_),
                          "MPI_Allreduce (gradients)");
    } else {
      staged_all_reduce(device, data, n, bucket);
    }
    last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  /// Sums `n` host doubles across ranks, in place (metric sums, counts, reference log-probs).
  void all_reduce_sum(double* data, index_t n) {
    if (!active_ || size_ == 1 || n <= 0) return;
    const index_t bucket = bucket_elements<double>();
    for (index_t first = 0; first < n; first += bucket)
      mpi_detail::check(MPI_Allreduce(MPI_IN_PLACE, data + first, static_cast<int>(std::min(bucket, n - first)),
                                      MPI_DOUBLE, MPI_SUM, comm_),
                        "MPI_Allreduce");
  }

  /// Rank `root`'s bytes to every rank.
  void broadcast(void* data, std::size_t bytes, int root) {
    if (!active_ || size_ == 1 || bytes == 0) return;
    const std::size_t chunk = std::size_t(1) << 30;
    auto* p = static_cast<char*>(data);
    for (std::size_t first = 0; first < bytes; first += chunk)
      mpi_detail::check(MPI_Bcast(p + first, static_cast<int>(std::min(chunk, bytes - first)), MPI_BYTE, root, comm_),
                        "MPI_Bcast");
  }

  void barrier() {
    if (!active_ || size_ == 1) return;
    mpi_detail::check(MPI_Barrier(comm_), "MPI_Barrier");
  }

  /// Takes the whole job down (every rank exits; mpirun reports `code`). For a rank that failed:
  /// the others are blocked in, or on their way to, a collective it will never join.
  void abort(int code) noexcept {
    if (active_) MPI_Abort(comm_, code);
    std::_Exit(code);
  }

 private:
  struct Inactive {};
  explicit MpiComm(Inactive) : comm_(MPI_COMM_NULL) {}

  template <class Scalar>
  index_t bucket_elements() const {
    const std::size_t e = std::max<std::size_t>(1, options_.bucket_bytes / sizeof(Scalar));
    return static_cast<index_t>(std::min<std::size_t>(e, std::size_t(1) << 30));  // MPI counts are int
  }

  // Device memory without CUDA-aware MPI: down to a host buffer, reduce, back up — two staging
  // buffers so that bucket k+1's copy down overlaps bucket k's reduction.
  template <class Device, class Scalar>
  void staged_all_reduce(const Device& device, Scalar* data, index_t n, index_t bucket) {
    std::vector<Scalar>& a = staging<Scalar>(0);
    std::vector<Scalar>& b = staging<Scalar>(1);
    a.resize(static_cast<std::size_t>(std::min(bucket, n)));
    b.resize(a.size());
    std::vector<Scalar>* buf[2] = {&a, &b};
    MPI_Request pending = MPI_REQUEST_NULL;
    index_t pending_first = 0, pending_count = 0;
    int slot = 0;
    for (index_t first = 0; first < n; first += bucket, slot ^= 1) {
      const index_t count = std::min(bucket, n - first);
      device.copy_to_host(data + first, count, buf[slot]->data());
      if (pending != MPI_REQUEST_NULL) {
        mpi_detail::check(MPI_Wait(&pending, MPI_STATUS_IGNORE), "MPI_Wait (gradients)");
        device.copy_from_host(buf[slot ^ 1]->data(), pending_count, data + pending_first);
      }
      mpi_detail::check(MPI_Iallreduce(MPI_IN_PLACE, buf[slot]->data(), static_cast<int>(count),
                                       mpi_detail::datatype<Scalar>(), MPI_SUM, comm_, &pending),
                        "MPI_Iallreduce (gradients)");
      pending_first = first;
      pending_count = count;
    }
    if (pending != MPI_REQUEST_NULL) {
      mpi_detail::check(MPI_Wait(&pending, MPI_STATUS_IGNORE), "MPI_Wait (gradients)");
      device.copy_from_host(buf[slot ^ 1]->data(), pending_count, data + pending_first);
    }
  }
  template <class Scalar>
  std::vector<Scalar>& staging(int which) {
    if constexpr (std::is_same_v<Scalar, float>) return staging_f_[which];
    else return staging_d_[which];
  }

  MPI_Comm comm_;
  MpiCommOptions options_{};
  int rank_ = 0, size_ = 1;
  bool active_ = false;
  double last_seconds_ = 0;
  std::vector<float> staging_f_[2];
  std::vector<double> staging_d_[2];
};

}  // namespace prefopt
