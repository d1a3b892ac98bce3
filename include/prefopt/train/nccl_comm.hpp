// SPDX-License-Identifier: MIT
// NcclComm: the trainer's communicator for the CUDA device (docs/distributed.md). The gradient
// block is summed in place in GPU memory by NCCL (ring/tree all-reduce over NVLink, PCIe or the
// network, whichever NCCL picks); everything else — host metric sums, broadcasts, barriers, abort
// — goes over MPI, which also starts the job and carries NCCL's unique id from rank 0 to the
// others (as llm.c does). CMake target prefopt::nccl (CUDA toolkit's nccl.h/libnccl + MPI).
//
// GPUs: each rank takes GPU (local rank mod visible GPUs), the local rank being its index among
// the ranks on its machine (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)); launch one rank per GPU.
// NCCL refuses two ranks of one communicator on the same GPU; the constructor's error says so.
//
// Ordering: the model's kernels and cuBLAS run on CUDA's legacy default stream; NCCL's stream is
// a blocking stream (cudaStreamCreate), so it waits for them, and all_reduce_sum synchronizes it
// before returning (the trainer reads the gradient norm next).
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>
#include <string>
#include <type_traits>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/train/mpi_comm.hpp"

namespace prefopt {

/// A NCCL or CUDA call of NcclComm failed.
class NcclError : public Error {
 public:
  using Error::Error;
};

namespace nccl_detail {
inline void check(ncclResult_t r, const char* call) {
  if (r != ncclSuccess) throw NcclError(std::string("NCCL error in ") + call + ": " + ncclGetErrorString(r));
}
inline void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw NcclError(std::string("CUDA error in ") + call + ": " + cudaGetErrorString(e));
}
template <class Scalar>
ncclDataType_t datatype() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "NcclComm: float or double data");
  return std::is_same_v<Scalar, float> ? ncclFloat32 : ncclFloat64;
}
}  // namespace nccl_detail

class NcclComm {
 public:
  static constexpr const char* name = "nccl";

  /// Over the ranks of `mpi`. A single-process `mpi` (world size 1) makes an NcclComm that never
  /// calls NCCL. `gpu` < 0: local rank mod the number of visible GPUs.
  explicit NcclComm(MpiComm mpi, int gpu = -1) : mpi_(mpi) {
    if (mpi_.world_size() == 1) return;
    int local_rank = 0, local_size = 1;
    {
      MPI_Comm node;
      mpi_detail::check(MPI_Comm_split_type(mpi_.native(), MPI_COMM_TYPE_SHARED, mpi_.rank(), MPI_INFO_NULL, &node),
                        "MPI_Comm_split_type");
      MPI_Comm_rank(node, &local_rank);
      MPI_Comm_size(node, &local_size);
      MPI_Comm_free(&node);
    }
    int n_gpus = 0;
    nccl_detail::check(cudaGetDeviceCount(&n_gpus), "cudaGetDeviceCount");
    PREFOPT_CHECK(n_gpus > 0, "NcclComm: rank ", mpi_.rank(), " sees no CUDA device");
    gpu_ = gpu >= 0 ? gpu : local_rank % n_gpus;
    if (local_size > n_gpus && mpi_.rank() == 0)
      std::cerr << "[nccl] " << local_size << " ranks share " << n_gpus
                << " GPU(s) on a machine; NCCL may refuse ranks on the same GPU (launch one rank per GPU)\n";
    nccl_detail::check(cudaSetDevice(gpu_), "cudaSetDevice");

    ncclUniqueId id;
    if (mpi_.rank() == 0) nccl_detail::check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_.broadcast(&id, sizeof id, 0);
    auto state = std::make_shared<State>();
    nccl_detail::check(cudaStreamCreate(&state->stream), "cudaStreamCreate");
    const ncclResult_t r = ncclCommInitRank(&state->comm, mpi_.world_size(), id, mpi_.rank());
    if (r != ncclSuccess)
      throw NcclError(std::string("NCCL error in ncclCommInitRank on rank ") + std::to_string(mpi_.rank()) + " (GPU " +
                      std::to_string(gpu_) + "): " + ncclGetErrorString(r) +
                      (local_size > n_gpus ? " — more ranks than GPUs on this machine" : ""));
    state_ = std::move(state);
  }

  int rank() const noexcept { return mpi_.rank(); }
  int world_size() const noexcept { return mpi_.world_size(); }
  int gpu() const noexcept { return gpu_; }
  MpiComm& mpi() noexcept { return mpi_; }

  /// Sums `n` values of GPU memory across ranks, in place.
  template <class Device, class Scalar>
  void all_reduce_sum(const Device&, Scalar* data, index_t n) {
    static_assert(!Device::host_accessible, "NcclComm sums GPU memory; use MpiComm for host-memory devices");
    if (!state_ || n <= 0) return;
    nccl_detail::check(ncclAllReduce(data, data, static_cast<std::size_t>(n), nccl_detail::datatype<Scalar>(), ncclSum,
                                     state_->comm, state_->stream),
                       "ncclAllReduce");
    nccl_detail::check(cudaStreamSynchronize(state_->stream), "cudaStreamSynchronize (after ncclAllReduce)");
  }

  void all_reduce_sum(double* data, index_t n) { mpi_.all_reduce_sum(data, n); }
  void broadcast(void* data, std::size_t bytes, int root) { mpi_.broadcast(data, bytes, root); }
  void barrier() { mpi_.barrier(); }
  /// NCCL's operations in flight are abandoned, then the job is taken down over MPI.
  void abort(int code) noexcept {
    if (state_) ncclCommAbort(state_->comm);
    mpi_.abort(code);
  }

 private:
  struct State {
    ncclComm_t comm = nullptr;
    cudaStream_t stream = nullptr;
    ~State() {
      if (comm) ncclCommDestroy(comm);
      if (stream) cudaStreamDestroy(stream);
    }
  };

  MpiComm mpi_;
  int gpu_ = 0;
  std::shared_ptr<State> state_;  // shared by the copies the trainer makes
};

}  // namespace prefopt
