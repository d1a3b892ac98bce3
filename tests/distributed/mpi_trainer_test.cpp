// SPDX-License-Identifier: MIT
// Data parallelism over MPI (run with `mpirun -np 2`; CTest label mpi): MpiComm's collectives,
// disjoint covering shards, 2 ranks x batch b = 1 rank x batch 2b over several DPO steps (losses,
// every logged metric and the weights), reference log-probs precomputed in parallel, and resume
// across world sizes (refused, or re-sharded when asked). Every rank runs every case in order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tiny_model.hpp"
#include "support/random_pairs.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/loss/losses.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/mpi_comm.hpp"
#include "prefopt/train/trainer.hpp"

using namespace prefopt;

namespace {

using Model = Gpt2<CpuDevice, float>;

// Prompts of 2-5 tokens, completions of 1-6.
std::vector<TokenizedPair> random_pairs(index_t n, index_t vocab, std::uint64_t seed) {
  return test::random_pairs(n, vocab, seed, 3, 5);
}

Gpt2Config small_config() {
  Gpt2Config c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  c.n_positions = 24;
  c.vocab_size = 29;
  c.bos_token_id = c.eos_token_id = static_cast<token_t>(c.vocab_size - 1);
  return c;
}


// One directory per case, made fresh by rank 0 while the others wait.
std::filesystem::path fresh_dir(MpiComm& comm, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("prefopt_mpi_test_" + name);
  if (comm.rank() == 0) std::filesystem::remove_all(dir);
  comm.barrier();
  return dir;
}

TrainingConfig run_config(const std::filesystem::path& dir, index_t batch) {
  TrainingConfig c;
  c.output_dir = dir.string();
  c.per_device_train_batch_size = batch;
  c.gradient_accumulation_steps = 1;
  c.max_steps = 5;
  c.learning_rate = 1e-3;
  c.warmup_steps = 1;
  c.logging_steps = 1;
  c.save_strategy = SaveStrategy::No;
  c.progress = false;
  return c;
}

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

double relative(double a, double b, double floor) { return std::abs(a - b) / std::max(floor, std::abs(b)); }

}  // namespace

TEST_CASE("MpiComm sums device buffers in buckets, doubles, and broadcasts", "[mpi]") {
  MpiCommOptions small_buckets;
  small_buckets.bucket_bytes = 7 * sizeof(float);  // 1000 floats: 143 buckets, the last one short
  MpiComm comm(MPI_COMM_WORLD, small_buckets);
  REQUIRE(comm.world_size() >= 2);
  const int W = comm.world_size(), r = comm.rank();
  std::vector<float> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((r + 1) * 1000 + static_cast<int>(i));
  comm.all_reduce_sum(CpuDevice{}, x.data(), static_cast<index_t>(x.size()));
  bool all_equal = true;
  for (std::size_t i = 0; i < x.size(); ++i)
    all_equal &= x[i] == static_cast<float>(1000 * W * (W + 1) / 2 + W * static_cast<int>(i));
  CHECK(all_equal);

  double d[3] = {1.0 * r, 0.5, -2.0};
  comm.all_reduce_sum(d, 3);
  CHECK(d[0] == W * (W - 1) / 2.0);
  CHECK(d[1] == 0.5 * W);
  CHECK(d[2] == -2.0 * W);

  std::uint64_t key = r == 0 ? 0x1234abcdULL : 0;
  comm.broadcast(&key, sizeof key, 0);
  CHECK(key == 0x1234abcdULL);
  comm.barrier();
}

TEST_CASE("every rank sees each pair once per epoch: shards are disjoint and cover the data", "[mpi]") {
  MpiComm comm;
  for (index_t n : {16, 13, 5}) {
    for (index_t batch : {1, 2, 3}) {
      BatcherOptions o;
      o.per_device_batch_size = batch;
      o.seed = 7;
      o.rank = comm.rank();
      o.world_size = comm.world_size();
      Batcher batcher(n, o);
      for (index_t epoch = 0; epoch < 2; ++epoch) {
        std::vector<double> seen(static_cast<std::size_t>(n), 0.0);
        const auto order = batcher.epoch_order(epoch);
        for (index_t b = 0; b < batcher.micro_batches_per_epoch(); ++b)
          for (index_t i : batcher.micro_batch_of(order, b)) seen[static_cast<std::size_t>(i)] += 1;
        comm.all_reduce_sum(seen.data(), n);
        const bool once = std::all_of(seen.begin(), seen.end(), [](double c) { return c == 1.0; });
        INFO(n << " pairs, batch " << batch << ", epoch " << epoch);
        CHECK(once);
        // Every rank takes the same number of optimizer steps.
        double steps[2] = {static_cast<double>(batcher.max_micro_batches_per_epoch()), 1.0};
        comm.all_reduce_sum(steps, 2);
        CHECK(steps[0] == steps[1] * static_cast<double>(batcher.max_micro_batches_per_epoch()));
      }
    }
  }
  // Through the trainer: the metric window of a checkpoint saved at the end of the first epoch
  // (nothing logged yet) counts every pair exactly once, over all ranks.
  const auto pairs = random_pairs(11, small_config().vocab_size, 3);
  Model policy(small_config());
  policy.init_random(5);
  const auto dir = fresh_dir(comm, "epoch_cover");
  TrainingConfig c = run_config(dir, 2);  // 2 ranks x 2 pairs: 3 steps per epoch (4 + 4 + 3 pairs)
  c.max_steps = 4;
  c.logging_steps = 100;
  c.save_strategy = SaveStrategy::Steps;
  c.save_steps = 3;
  Trainer<Model, loss::SimPo, void, MpiComm> trainer(policy, loss::SimPo{}, c, pairs, {}, comm);
  REQUIRE(trainer.steps_per_epoch() == 3);
  trainer.train();
  std::ifstream in(dir / "checkpoint-3" / "trainer_state.json");
  const nlohmann::json state = nlohmann::json::parse(in);
  INFO(state["metric_window"].dump());
  CHECK(state["metric_window"][0].get<double>() == 11.0);
  // and each rank's own window, which a resume on 2 ranks puts back where it was; the two add up
  // to the global one field by field
  INFO(state["metric_window_per_rank"].dump());
  REQUIRE(state["metric_window_per_rank"].size() == 2);
  for (std::size_t f = 0; f < state["metric_window"].size(); ++f)
    CHECK(state["metric_window_per_rank"][0][f].get<double>() + state["metric_window_per_rank"][1][f].get<double>() ==
          state["metric_window"][f].get<double>());
}

TEST_CASE("2 ranks x batch b train exactly as 1 rank x batch 2b: losses, metrics and weights", "[mpi]") {
  MpiComm comm;
  REQUIRE(comm.world_size() == 2);
  const auto pairs = random_pairs(24, small_config().vocab_size, 11);
  const index_t b = 3;
  auto fresh_models = [](Model& policy, Model& reference) {
    policy.init_random(21);
    reference.init_random(22);  // a reference other than the policy: nonzero margins from step 0
  };
  const auto dir2 = fresh_dir(comm, "equal_2ranks");
  Model policy(small_config()), reference(small_config(), CpuDevice{}, GradientMemory::none);
  fresh_models(policy, reference);
  {
    Trainer<Model, loss::Dpo, void, MpiComm> trainer(policy, loss::Dpo{0.3}, run_config(dir2, b), pairs, {}, comm);
    trainer.precompute_reference(reference);
    trainer.train();
  }
  if (comm.rank() == 0) {
    const auto dir1 = std::filesystem::temp_directory_path() / "prefopt_mpi_test_equal_1rank";
    std::filesystem::remove_all(dir1);
    Model single(small_config()), single_ref(small_config(), CpuDevice{}, GradientMemory::none);
    fresh_models(single, single_ref);
    Trainer<Model, loss::Dpo> trainer(single, loss::Dpo{0.3}, run_config(dir1, 2 * b), pairs);
    trainer.precompute_reference(single_ref);
    trainer.train();

    // Every logged number (loss, rewards, log-probs, grad_norm, ...) is the global mean: equal to
    // the single process's up to summation order.
    const auto log2 = read_metrics(dir2), log1 = read_metrics(dir1);
    REQUIRE(log1.size() == 5);
    REQUIRE(log2.size() == log1.size());
    double worst_metric = 0;
    std::string worst_name;
    for (std::size_t s = 0; s < log1.size(); ++s)
      for (auto it = log1[s].begin(); it != log1[s].end(); ++it) {
        REQUIRE(log2[s].contains(it.key()));
        if (!it->is_number()) continue;
        // Relative to max(1, |value|): a reward is beta times a difference of log-probs of size
        // ~10, so its float rounding is absolute, not relative to the (small) difference.
        const double e = relative(log2[s][it.key()].get<double>(), it->get<double>(), 1.0);
        if (e > worst_metric) worst_metric = e, worst_name = it.key() + " at step " + std::to_string(s + 1);
      }
    INFO("worst metric difference " << worst_metric << " (" << worst_name << ")");
    CHECK(worst_metric < 1e-6);
    double worst_loss = 0;  // the loss on its own, purely relative
    for (std::size_t s = 0; s < log1.size(); ++s)
      worst_loss = std::max(worst_loss, relative(log2[s]["loss"].get<double>(), log1[s]["loss"].get<double>(), 0.0));
    INFO("worst relative loss difference " << worst_loss);
    CHECK(worst_loss < 1e-6);

    // The weights as one vector: ||w2 - w1|| / ||w1||. Element-wise, AdamW's division by
    // sqrt(v) + eps can magnify the summation order's last bit on gradients near eps (printed).
    const float* w2 = policy.parameters();
    const float* w1 = single.parameters();
    double diff2 = 0, norm2 = 0, worst = 0;
    for (index_t i = 0; i < policy.num_parameters(); ++i) {
      const double d = static_cast<double>(w2[i]) - w1[i];
      diff2 += d * d;
      norm2 += static_cast<double>(w1[i]) * w1[i];
      worst = std::max(worst, std::abs(d) / std::max(1.0, std::abs(static_cast<double>(w1[i]))));
    }
    const double rel = std::sqrt(diff2 / norm2);
    INFO("relative weight difference " << rel << ", worst element " << worst);
    CHECK(rel < 1e-6);
    std::printf("[mpi] 2x%d vs 1x%d: worst relative loss difference %.3g; worst metric difference %.3g (%s); weights: "
                "relative difference %.3g (worst element %.3g)\n",
                static_cast<int>(b), static_cast<int>(2 * b), worst_loss, worst_metric, worst_name.c_str(), rel, worst);
  }
  comm.barrier();
}

TEST_CASE("reference log-probs precomputed by both ranks equal one process's", "[mpi]") {
  MpiComm comm;
  const auto pairs = random_pairs(9, small_config().vocab_size, 13);  // 9: the ranks score 5 and 4
  Model policy(small_config()), reference(small_config(), CpuDevice{}, GradientMemory::none);
  policy.init_random(1);
  reference.init_random(2);
  const auto dir2 = fresh_dir(comm, "reference_2ranks");
  {
    Trainer<Model, loss::Dpo, void, MpiComm> trainer(policy, loss::Dpo{0.1}, run_config(dir2, 2), pairs, {}, comm);
    trainer.precompute_reference(reference);
  }
  if (comm.rank() == 0) {
    const auto dir1 = std::filesystem::temp_directory_path() / "prefopt_mpi_test_reference_1rank";
    std::filesystem::remove_all(dir1);
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.1}, run_config(dir1, 2), pairs);
    trainer.precompute_reference(reference);
    auto read = [](const std::filesystem::path& p) {
      std::ifstream in(p);
      return nlohmann::json::parse(in);
    };
    const auto j2 = read(dir2 / "reference_logps.json"), j1 = read(dir1 / "reference_logps.json");
    CHECK(j2["key"] == j1["key"]);
    for (const char* field : {"chosen", "rejected"}) {
      REQUIRE(j2[field].size() == pairs.size());
      for (std::size_t i = 0; i < pairs.size(); ++i)
        CHECK(relative(j2[field][i].get<double>(), j1[field][i].get<double>(), 1.0) < 1e-6);
    }
  }
  comm.barrier();
}

TEST_CASE("resuming with another world size is refused, or re-sharded when asked", "[mpi]") {
  MpiComm comm;
  const auto pairs = random_pairs(12, small_config().vocab_size, 17);
  const auto dir = fresh_dir(comm, "reshard");
  TrainingConfig c = run_config(dir, 2);  // 2 ranks x 2: 3 steps per epoch
  c.max_steps = 6;
  c.save_strategy = SaveStrategy::Steps;
  c.save_steps = 2;
  {
    Model policy(small_config());
    policy.init_random(4);
    Trainer<Model, loss::SimPo, void, MpiComm> trainer(policy, loss::SimPo{}, c, pairs, {}, comm);
    trainer.train();
  }
  if (comm.rank() == 0) {
    TrainingConfig one = c;  // the same flags as the saved run, on one rank
    Model policy(small_config());
    policy.init_random(4);
    {
      Trainer<Model, loss::SimPo> trainer(policy, loss::SimPo{}, one, pairs);
      try {
        trainer.train(dir / "checkpoint-4");
        FAIL("resuming a 2-rank checkpoint with 1 rank was accepted");
      } catch (const CheckpointError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("world_size was 2") != std::string::npos);
        CHECK(what.find("--reshard") != std::string::npos);
      }
    }
    one.reshard_on_resume = true;
    one.max_steps = 6;
    Trainer<Model, loss::SimPo> trainer(policy, loss::SimPo{}, one, pairs);
    const TrainResult r = trainer.train(dir / "checkpoint-4");
    CHECK(r.global_step == 6);
    const auto log = read_metrics(dir);
    REQUIRE(!log.empty());
    CHECK(log.back()["step"] == 6);
  }
  comm.barrier();
}

TEST_CASE("a 2-rank run resumed from its checkpoints ends bit for bit as the uninterrupted one", "[mpi]") {
  MpiComm comm;
  const auto pairs = random_pairs(14, small_config().vocab_size, 19);
  auto config = [](const std::filesystem::path& dir) {
    TrainingConfig c = run_config(dir, 2);
    c.max_steps = 7;
    c.logging_steps = 3;  // checkpoint-4 holds an open metric window (step 4)
    c.save_strategy = SaveStrategy::Steps;
    c.save_steps = 2;
    return c;
  };
  auto read_text = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  const auto dir_a = fresh_dir(comm, "resume_a");
  std::vector<float> uninterrupted;
  {
    Model policy(small_config());
    policy.init_random(6);
    Trainer<Model, loss::SimPo, void, MpiComm> trainer(policy, loss::SimPo{}, config(dir_a), pairs, {}, comm);
    trainer.train();
    uninterrupted.assign(policy.parameters(), policy.parameters() + policy.num_parameters());
  }
  const auto dir_b = fresh_dir(comm, "resume_b");
  if (comm.rank() == 0) {
    std::filesystem::create_directories(dir_b);
    std::filesystem::copy(dir_a / "checkpoint-4", dir_b / "checkpoint-4");
    std::ofstream(dir_b / "metrics.jsonl") << read_text(dir_a / "metrics.jsonl");
  }
  comm.barrier();
  Model policy(small_config());
  policy.init_random(999);  // replaced by the checkpoint's weights
  Trainer<Model, loss::SimPo, void, MpiComm> trainer(policy, loss::SimPo{}, config(dir_b), pairs, {}, comm);
  trainer.train(dir_b / "checkpoint-4");
  CHECK(std::memcmp(policy.parameters(), uninterrupted.data(), uninterrupted.size() * sizeof(float)) == 0);
  if (comm.rank() == 0) CHECK(read_text(dir_b / "metrics.jsonl") == read_text(dir_a / "metrics.jsonl"));
  comm.barrier();
}
