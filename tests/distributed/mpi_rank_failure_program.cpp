// SPDX-License-Identifier: MIT
// A data-parallel DPO run in which one rank throws in the middle of step 3 (its loss policy fails
// on that rank only), for mpi_rank_failure_test.sh:
//   mpi_rank_failure_program train  DIR [--fail-rank R]   (under mpirun; R < 0: no failure; resumes
//                                                          from DIR's latest checkpoint if any)
//   mpi_rank_failure_program verify DIR                     (one process: every checkpoint in DIR loads)
// The failing rank's exception goes through MpiLaunch::run, which prints it with the rank and
// calls MPI_Abort; the other rank is blocked in the step's gradient all-reduce and is killed.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/tiny_model.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/io/load_pretrained.hpp"
#include "prefopt/loss/losses.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/checkpoint_dir.hpp"
#include "prefopt/train/mpi_launch.hpp"
#include "prefopt/train/trainer.hpp"

using namespace prefopt;

namespace {

using Model = Gpt2<CpuDevice, float>;

Gpt2Config config() {
  Gpt2Config c = test::tiny_config();
  c.bos_token_id = c.eos_token_id = static_cast<token_t>(c.vocab_size - 1);
  return c;
}

/// DPO that throws on its `fail_after`-th pair (counted on this rank): a rank-local failure in the
/// middle of a step, with the other ranks already on their way to the step's all-reduce.
struct FailingDpo : loss::Dpo {
  long* calls = nullptr;
  long fail_after = -1;
  loss::PairLoss operator()(const loss::PairLogps& p) const {
    if (fail_after >= 0 && ++*calls > fail_after) throw std::runtime_error("injected failure in the loss");
    return loss::Dpo::operator()(p);
  }
};

TrainingConfig run_config(const std::string& dir) {
  TrainingConfig c;
  c.output_dir = dir;
  c.per_device_train_batch_size = 2;
  c.max_steps = 6;
  c.learning_rate = 1e-2;
  c.logging_steps = 100;  // the loss is called only by training steps until the last one
  c.save_strategy = SaveStrategy::Steps;
  c.save_steps = 1;
  c.progress = false;
  return c;
}

std::vector<TokenizedPair> pairs() {
  Random rng(5);
  std::vector<TokenizedPair> out;
  for (int i = 0; i < 16; ++i) {
    TokenizedPair p;
    p.prompt_ids = test::random_tokens(3, config().vocab_size, rng.next_u64());
    p.chosen_ids = test::random_tokens(3, config().vocab_size, rng.next_u64());
    p.rejected_ids = test::random_tokens(2, config().vocab_size, rng.next_u64());
    out.push_back(std::move(p));
  }
  return out;
}

int train(MpiComm& comm, const std::string& dir, int fail_rank) {
  Model policy(config()), reference(config(), CpuDevice{}, GradientMemory::none);
  policy.init_random(1);
  reference.init_random(1);
  long calls = 0;
  FailingDpo loss;
  loss.beta = 0.5;
  loss.calls = &calls;
  if (comm.rank() == fail_rank) loss.fail_after = 2 * 2 + 1;  // the 2nd pair of step 3
  Trainer<Model, FailingDpo, void, MpiComm> trainer(policy, loss, run_config(dir), pairs(), {}, comm);
  trainer.precompute_reference(reference);
  const bool resume = !list_checkpoints(dir).empty();  // continue what a failed run left
  trainer.train(resume ? std::filesystem::path(dir) : std::filesystem::path());
  return 0;
}

int verify(const std::string& dir) {
  const auto checkpoints = list_checkpoints(dir);
  if (checkpoints.empty()) throw std::runtime_error("no checkpoint in " + dir);
  for (const auto& c : checkpoints) {
    load_pretrained<Model>(c, GradientMemory::none);  // throws if the weights do not load
    std::ifstream in(c / "trainer_state.json");
    const auto state = nlohmann::json::parse(in);
    std::cout << c.filename().string() << ": loads, global_step " << state.at("global_step") << "\n";
  }
  // A directory named like a checkpoint is one (the writer renames complete ones into place).
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && !checkpoint_step(entry.path()))
      throw std::runtime_error("stray directory " + name + " looks like a torn checkpoint");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MpiLaunch launch(argc, argv);
  return launch.run("mpi_rank_failure_program", [&](MpiComm& comm) {
    if (argc < 3) throw std::runtime_error("usage: mpi_rank_failure_program train|verify DIR [--fail-rank R]");
    const std::string mode = argv[1], dir = argv[2];
    const int fail_rank = argc >= 5 && std::string(argv[3]) == "--fail-rank" ? std::atoi(argv[4]) : -1;
    if (mode == "train") return train(comm, dir, fail_rank);
    if (mode == "verify") return verify(dir);
    throw std::runtime_error("unknown mode " + mode);
  });
}
