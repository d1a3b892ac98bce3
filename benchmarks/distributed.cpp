// SPDX-License-Identifier: MIT
// Data-parallel benchmark (issue 7), run with or without mpirun; rank 0 prints one JSON line.
//
//   bench_distributed --mode dpo-step --config small --global-batch 8 --steps 6
//       DPO optimizer steps of Trainer<Gpt2, loss::Dpo, void, MpiComm> on equal-length random
//       pairs with a fixed GLOBAL batch: each of the W ranks takes global/W pairs per step. The
//       reference is precomputed before the timed steps (the default ReferenceMode). Reports global
//       pairs/s and tokens/s over the measured steps, the median step time and the median time of
//       the gradient all-reduce inside a step (MpiComm::last_all_reduce_seconds).
//   bench_distributed --mode allreduce --params 124439808 --bucket-mib 32 --repeats 5
//       MpiComm::all_reduce_sum of a float gradient block of --params values on the CPU device:
//       median seconds, algorithm bandwidth (bytes / s) and bus bandwidth (x 2(W-1)/W, the bytes a
//       ring all-reduce moves per rank, NCCL's convention) so numbers compare across world sizes.
//
// Compare "1 rank x 2 threads" (OMP_NUM_THREADS=2 bench_distributed ...) with "2 ranks x 1 thread"
// (mpirun -np 2 -x OMP_NUM_THREADS=1 bench_distributed ...): benchmarks/run_distributed_benchmark.sh.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <streambuf>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "prefopt/core/config.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/loss/dpo.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/mpi_launch.hpp"
#include "prefopt/train/trainer.hpp"

namespace po = boost::program_options;
using namespace prefopt;

namespace {

using Model = Gpt2<CpuDevice, float>;

nlohmann::ordered_json common_fields(const MpiComm& comm, const char* bench) {
  nlohmann::ordered_json j;
  j["name"] = "prefopt";
  j["bench"] = bench;
  j["ranks"] = comm.world_size();
  j["threads_per_rank"] = max_threads();
  return j;
}

void finish(nlohmann::ordered_json& j) {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  j["loadavg_1m"] = load[0];
  j["peak_rss_mib_rank0"] = bench::peak_rss_mib();
  std::cout << j.dump() << std::endl;
}

int dpo_step(MpiComm& comm, const std::string& config_name, index_t global_batch, int warmup, int steps,
             index_t prompt_len, index_t completion_len, std::uint64_t seed) {
  const auto found = bench::config_by_name(config_name, "bench_distributed");
  if (!found) return 2;
  const Gpt2Config config = *found;
  const index_t W = comm.world_size();
  PREFOPT_CHECK(global_batch % W == 0, "--global-batch ", global_batch, " is not divisible by the ", W, " ranks");
  if (prompt_len <= 0) prompt_len = config_name == "small" ? 64 : 128;
  if (completion_len <= 0) completion_len = config_name == "small" ? 192 : 384;
  const index_t total = warmup + steps;
  const auto pairs = bench::equal_pairs(global_batch * total, prompt_len, completion_len, config.vocab_size, seed + 1);

  std::string dir;
  if (comm.rank() == 0) {
    char tmpl[] = "/tmp/bench_distributed.XXXXXX";
    PREFOPT_CHECK(mkdtemp(tmpl) != nullptr, "mkdtemp failed");
    dir = tmpl;
  }
  char path[64] = {0};
  std::snprintf(path, sizeof path, "%s", dir.c_str());
  comm.broadcast(path, sizeof path, 0);  // one output directory for the job (rank 0 writes in it)
  dir = path;

  TrainingConfig tc;
  tc.output_dir = dir;
  tc.per_device_train_batch_size = global_batch / W;
  tc.max_steps = total;
  tc.learning_rate = 1e-6;
  tc.logging_steps = 1;
  tc.save_strategy = SaveStrategy::No;
  tc.progress = false;
  tc.seed = seed;
  Model policy(config);
  policy.init_random(seed);
  if (comm.rank() == 0)
    std::fprintf(stderr, "bench_distributed: %s, %lld parameters, %d rank(s) x %d thread(s), global batch %lld (%lld per rank), %d+%d steps\n",
                 config_name.c_str(), static_cast<long long>(policy.num_parameters()), comm.world_size(), max_threads(),
                 static_cast<long long>(global_batch), static_cast<long long>(global_batch / W), warmup, steps);
  Trainer<Model, loss::Dpo, void, MpiComm> trainer(policy, loss::Dpo{0.1}, tc, pairs, {}, comm);
  trainer.precompute_reference(policy);  // TRL without ref_model: the untrained policy is the reference
  std::vector<double> stamps, all_reduce_s;
  trainer.on_log([&](const LogEntry&) {
    stamps.push_back(bench::now_seconds());
    all_reduce_s.push_back(trainer.communicator().last_all_reduce_seconds());
  });
  std::streambuf* saved = std::cout.rdbuf(nullptr);  // the trainer's console lines; stdout is the JSON
  trainer.train();
  std::cout.rdbuf(saved);
  std::cout.clear();
  if (comm.rank() == 0) {
    PREFOPT_CHECK(static_cast<int>(stamps.size()) == total, "expected ", total, " log entries, got ", stamps.size());
    const double measured = stamps.back() - stamps[static_cast<std::size_t>(warmup - 1)];
    std::vector<double> step_s, reduce_s;
    for (int i = warmup; i < total; ++i) {
      step_s.push_back(stamps[static_cast<std::size_t>(i)] - stamps[static_cast<std::size_t>(i - 1)]);
      reduce_s.push_back(all_reduce_s[static_cast<std::size_t>(i)]);
    }
    const double tokens_per_pair = static_cast<double>(2 * prompt_len + 2 * completion_len);
    nlohmann::ordered_json j = common_fields(comm, "dpo_step");
    j["config"] = config_name;
    j["parameters"] = policy.num_parameters();
    j["global_batch"] = global_batch;
    j["per_rank_batch"] = global_batch / W;
    j["tokens_per_pair"] = tokens_per_pair;
    j["steps"] = steps;
    j["pairs_per_s"] = static_cast<double>(global_batch * steps) / measured;
    j["tokens_per_s"] = tokens_per_pair * static_cast<double>(global_batch * steps) / measured;
    j["step_s_median"] = bench::median(step_s);
    j["all_reduce_s_median"] = bench::median(reduce_s);
    finish(j);
  }
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
  return 0;
}

int all_reduce(MpiComm& world, index_t params, double bucket_mib, int repeats) {
  PREFOPT_CHECK(world.world_size() > 1, "--mode allreduce needs two or more ranks (mpirun -np 2 bench_distributed ...)");
  MpiCommOptions o;
  o.bucket_bytes = static_cast<std::size_t>(bucket_mib * 1024 * 1024);
  MpiComm comm(world.native(), o);
  std::vector<float> grad(static_cast<std::size_t>(params), 1.0f / static_cast<float>(comm.world_size()));
  std::vector<double> seconds;
  for (int r = 0; r < repeats + 1; ++r) {  // the first is a warm-up (page faults, MPI's buffers)
    comm.barrier();
    const double t0 = bench::now_seconds();
    comm.all_reduce_sum(CpuDevice{}, grad.data(), params);
    const double t = bench::now_seconds() - t0;
    double slowest = t;  // the collective ends when its slowest rank does
    double gathered[1] = {slowest};
    MPI_Allreduce(MPI_IN_PLACE, gathered, 1, MPI_DOUBLE, MPI_MAX, comm.native());
    if (r > 0) seconds.push_back(gathered[0]);
    for (auto& g : grad) g = 1.0f / static_cast<float>(comm.world_size());
  }
  if (comm.rank() == 0) {
    const double t = bench::median(seconds), bytes = 4.0 * static_cast<double>(params);
    const double W = comm.world_size();
    nlohmann::ordered_json j = common_fields(comm, "allreduce");
    j["transport"] = "MPI (" + std::string(MPI_VERSION == 3 ? "MPI-3" : "MPI") + ")";
    j["params"] = params;
    j["bytes"] = bytes;
    j["bucket_mib"] = bucket_mib;
    j["repeats"] = repeats;
    j["seconds_median"] = t;
    j["algbw_gb_per_s"] = bytes / t / 1e9;
    j["busbw_gb_per_s"] = W > 1 ? bytes / t / 1e9 * 2.0 * (W - 1) / W : 0.0;
    finish(j);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MpiLaunch launch(argc, argv);
  return launch.run("bench_distributed", [&](MpiComm& comm) {
    std::string mode = "dpo-step", config = "small";
    index_t global_batch = 8, prompt_len = 0, completion_len = 0, params = 124439808;
    int steps = 4, warmup = 1, repeats = 5;
    double bucket_mib = 4;
    std::uint64_t seed = 42;
    po::options_description opts("bench_distributed options");
    opts.add_options()("help", "show this help")
        ("mode", po::value(&mode)->default_value(mode), "dpo-step or allreduce")
        ("config", po::value(&config)->default_value(config), "dpo-step: small or 124m")
        ("global-batch", po::value(&global_batch)->default_value(global_batch), "dpo-step: pairs per optimizer step over all ranks")
        ("steps", po::value(&steps)->default_value(steps), "dpo-step: measured steps")
        ("warmup", po::value(&warmup)->default_value(warmup), "dpo-step: steps before the measured ones")
        ("prompt-len", po::value(&prompt_len), "dpo-step: prompt tokens (default 64 small, 128 124m)")
        ("completion-len", po::value(&completion_len), "dpo-step: completion tokens (default 192 small, 384 124m)")
        ("seed", po::value(&seed)->default_value(seed), "seed")
        ("params", po::value(&params)->default_value(params), "allreduce: floats in the block (124439808: GPT-2 124M)")
        ("bucket-mib", po::value(&bucket_mib)->default_value(bucket_mib), "allreduce: MpiComm bucket size")
        ("repeats", po::value(&repeats)->default_value(repeats), "allreduce: timed repetitions");
    po::variables_map vm;
    if (const auto status = bench::parse_flags(opts, argc, argv, vm, "bench_distributed")) return *status;
    PREFOPT_CHECK(steps >= 1 && warmup >= 1 && repeats >= 1 && global_batch >= 1, "need --steps, --warmup, --repeats, --global-batch >= 1");
    if (mode == "dpo-step") return dpo_step(comm, config, global_batch, warmup, steps, prompt_len, completion_len, seed);
    if (mode == "allreduce") return all_reduce(comm, params, bucket_mib, repeats);
    throw ArgumentError("--mode must be dpo-step or allreduce, got " + mode);
  });
}
