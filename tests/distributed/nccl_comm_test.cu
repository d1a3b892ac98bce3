// SPDX-License-Identifier: MIT
// NcclComm and the CUDA device under `mpirun -np 2` (CTest labels mpi, cuda): NCCL's in-place
// all-reduce of GPU memory, MpiComm's staged path for GPU memory, and 2 ranks x batch b against
// 1 rank x batch 2b for several DPO steps of Gpt2<CudaDevice>. Built by nvcc in CI; without a GPU
// every rank prints "SKIPPED: no CUDA device" and exits 77 (CTest: skipped). With fewer GPUs than
// ranks on a machine NCCL may refuse the communicator: the test then fails with NCCL's message.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tiny_model.hpp"
#include "support/random_pairs.hpp"
#include "prefopt/device/cuda.hpp"
#include "prefopt/loss/dpo.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/mpi_comm.hpp"
#include "prefopt/train/nccl_comm.hpp"
#include "prefopt/train/trainer.hpp"

using namespace prefopt;

namespace {

MpiComm* world = nullptr;
NcclComm* nccl = nullptr;

template <class T>
std::vector<T> to_host(const CudaDevice::vector<T>& v) {
  std::vector<T> h(v.size());
  CudaDevice{}.copy_to_host(v.data(), static_cast<index_t>(v.size()), h.data());
  return h;
}
template <class T>
CudaDevice::vector<T> to_device(const std::vector<T>& h) {
  CudaDevice::vector<T> v(h.size());
  CudaDevice{}.copy_from_host(h.data(), static_cast<index_t>(h.size()), v.data());
  return v;
}


Gpt2Config config() {
  Gpt2Config c = test::tiny_config();
  c.n_embd = 16;
  c.vocab_size = 29;
  c.bos_token_id = c.eos_token_id = static_cast<token_t>(c.vocab_size - 1);
  return c;
}

}  // namespace

TEST_CASE("NcclComm sums GPU buffers in place; MpiComm stages GPU buffers through the host", "[mpi][cuda]") {
  const int W = world->world_size(), r = world->rank();
  std::vector<float> h(100003);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>((r + 1) * 3 + static_cast<int>(i % 1000));
  auto expected = [&](std::size_t i) { return static_cast<float>(3 * W * (W + 1) / 2 + W * static_cast<int>(i % 1000)); };

  auto a = to_device(h);
  nccl->all_reduce_sum(CudaDevice{}, a.data(), static_cast<index_t>(a.size()));
  auto back = to_host(a);
  bool ok = true;
  for (std::size_t i = 0; i < h.size(); ++i) ok &= back[i] == expected(i);
  CHECK(ok);

  MpiCommOptions small;
  small.bucket_bytes = 4096 * sizeof(float);  // 25 buckets through the two staging buffers
  MpiComm staged(MPI_COMM_WORLD, small);
  auto b = to_device(h);
  staged.all_reduce_sum(CudaDevice{}, b.data(), static_cast<index_t>(b.size()));
  back = to_host(b);
  ok = true;
  for (std::size_t i = 0; i < h.size(); ++i) ok &= back[i] == expected(i);
  CHECK(ok);

  double d = r + 1.0;
  nccl->all_reduce_sum(&d, 1);
  CHECK(d == W * (W + 1) / 2.0);
}

TEST_CASE("on the CUDA device, 2 ranks x batch b train as 1 rank x batch 2b", "[mpi][cuda]") {
  using Model = Gpt2<CudaDevice, float>;
  const auto pairs = test::random_pairs(24, config().vocab_size, 7);
  auto make_config = [](const std::filesystem::path& dir, index_t batch) {
    TrainingConfig c;
    c.output_dir = dir.string();
    c.per_device_train_batch_size = batch;
    c.max_steps = 4;
    c.learning_rate = 1e-3;
    c.logging_steps = 1;
    c.save_strategy = SaveStrategy::No;
    c.progress = false;
    return c;
  };
  const auto dir2 = std::filesystem::temp_directory_path() / "prefopt_nccl_test_2ranks";
  if (world->rank() == 0) std::filesystem::remove_all(dir2);
  world->barrier();
  auto host_weights = [](const Model& m) {
    std::vector<float> w(static_cast<std::size_t>(m.num_parameters()));
    m.get_parameters(w.data());
    return w;
  };
  Model policy(config()), reference(config(), CudaDevice{}, GradientMemory::none);
  policy.init_random(3);
  reference.init_random(4);
  std::vector<float> w2;
  {
    Trainer<Model, loss::Dpo, void, NcclComm> trainer(policy, loss::Dpo{0.3}, make_config(dir2, 3), pairs, {}, *nccl);
    trainer.precompute_reference(reference);
    trainer.train();
    w2 = host_weights(policy);
  }
  if (world->rank() == 0) {
    const auto dir1 = std::filesystem::temp_directory_path() / "prefopt_nccl_test_1rank";
    std::filesystem::remove_all(dir1);
    Model single(config()), single_ref(config(), CudaDevice{}, GradientMemory::none);
    single.init_random(3);
    single_ref.init_random(4);
    Trainer<Model, loss::Dpo> trainer(single, loss::Dpo{0.3}, make_config(dir1, 6), pairs);
    trainer.precompute_reference(single_ref);
    trainer.train();
    const auto w1 = host_weights(single);
    double diff2 = 0, norm2 = 0;
    for (std::size_t i = 0; i < w1.size(); ++i) {
      diff2 += (static_cast<double>(w2[i]) - w1[i]) * (static_cast<double>(w2[i]) - w1[i]);
      norm2 += static_cast<double>(w1[i]) * w1[i];
    }
    const double rel = std::sqrt(diff2 / norm2);
    std::printf("[nccl] 2x3 vs 1x6 on the GPU: relative weight difference %.3g\n", rel);
    CHECK(rel < 1e-6);
    auto last_loss = [](const std::filesystem::path& d) {
      std::ifstream in(d / "metrics.jsonl");
      std::string line, last;
      while (std::getline(in, line))
        if (!line.empty()) last = line;
      return nlohmann::json::parse(last)["loss"].get<double>();
    };
    CHECK(last_loss(dir2) == Approx(last_loss(dir1)).epsilon(1e-6));
  }
  world->barrier();
}

int main(int argc, char** argv) {
  MpiEnvironment mpi(argc, argv);
  MpiComm comm;
  int n_devices = 0;
  if (cudaGetDeviceCount(&n_devices) != cudaSuccess || n_devices == 0) {
    std::printf("SKIPPED: no CUDA device (rank %d)\n", comm.rank());
    return 77;
  }
  world = &comm;
  int failed = 0;
  try {
    NcclComm n(comm);
    nccl = &n;
    Catch::Session session;
    failed = session.run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nccl_comm_test: error on rank %d: %s\n", comm.rank(), e.what());
    comm.abort(1);
  }
  double failures = failed;
  comm.all_reduce_sum(&failures, 1);
  return failures > 0 ? 1 : 0;
}
