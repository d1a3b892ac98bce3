// SPDX-License-Identifier: MIT
// The trainer: the step objective's gradient against central differences of the whole pipeline
// (pairs -> packed batch -> model -> loss -> per-token weights -> backward) in double, gradient
// accumulation = a larger batch, the step-0 invariant, exact resume, refusal to resume a different
// run, non-finite stops, TRL metric names and checkpoint rotation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "model/tiny_model.hpp"
#include "support/random_pairs.hpp"
#include "support/test_device.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/loss/losses.hpp"
#include "prefopt/model/gpt2.hpp"
#include "prefopt/train/trainer.hpp"
#include "support/gradcheck.hpp"

using namespace prefopt;
using prefopt::test::random_pairs;
using prefopt::test::random_tokens;

namespace {

// The model tests' tiny GPT-2, with BOS/EOS inside its 13-token vocabulary so that its
// checkpoints load back.
Gpt2Config tiny_config() {
  Gpt2Config c = prefopt::test::tiny_config();
  c.bos_token_id = c.eos_token_id = static_cast<token_t>(c.vocab_size - 1);
  return c;
}


std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("prefopt_trainer_test_" + std::string(test::TestDevice::name) + "_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

TrainingConfig small_run(const std::filesystem::path& dir) {
  TrainingConfig c;
  c.output_dir = dir.string();
  c.per_device_train_batch_size = 2;
  c.gradient_accumulation_steps = 2;
  c.max_steps = 4;
  c.learning_rate = 1e-2;
  c.logging_steps = 1;
  c.save_strategy = SaveStrategy::No;
  c.progress = false;
  return c;
}

template <class Scalar>
std::vector<Scalar> parameters_of(const Gpt2<test::TestDevice, Scalar>& m) {
  return std::vector<Scalar>(m.parameters(), m.parameters() + m.num_parameters());
}

// Coordinates probed per loss. On the SIMT emulator a step costs ~40 ms, not ~1 ms, and 400
// probes of 4 losses took 130 s; 80 still send every loss through CudaDevice's kernels end to end.
#if defined(PREFOPT_TEST_SIMT)
constexpr index_t step_gradient_coords = 80;
#else
constexpr index_t step_gradient_coords = 400;
#endif

template <class Loss>
void check_step_gradient(const Loss& loss, const char* name) {
  using Model = Gpt2<test::TestDevice, double>;
  Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
  policy.init_random(11);
  reference.init_random(12);  // a different reference, so h != 0
  const auto pairs = random_pairs(7, tiny_config().vocab_size, 5);
  TrainingConfig config = small_run(fresh_dir(std::string("grad_") + name));
  config.per_device_train_batch_size = 2;
  config.gradient_accumulation_steps = 2;  // two micro-batches share one normalizer
  Trainer<Model, Loss> trainer(policy, loss, config, pairs);
  if constexpr (Loss::needs_reference) trainer.precompute_reference(reference);
  trainer.compute_gradients();
  const std::vector<double> analytic(policy.gradients(), policy.gradients() + policy.num_parameters());
  test::check_gradient(name, policy.parameters(), policy.num_parameters(), analytic.data(),
                       [&] { return trainer.compute_gradients().loss; }, 1e-6, step_gradient_coords);
}

}  // namespace

TEST_CASE("the step objective's gradient matches central differences through the whole pipeline", "[train]") {
  check_step_gradient(loss::Dpo{0.5, 0.1}, "dpo");
  check_step_gradient(loss::Ipo{0.3}, "ipo");
  check_step_gradient(loss::SimPo{2.0, 0.5}, "simpo");
  check_step_gradient(loss::Sft{}, "sft");  // per-token normalization across micro-batches
}

TEST_CASE("gradient accumulation of 2 micro-batches of 2 pairs equals one micro-batch of 4", "[train]") {
  using Model = Gpt2<test::TestDevice, double>;
  const auto pairs = random_pairs(12, tiny_config().vocab_size, 9);
  auto run = [&](index_t batch, index_t accumulation) {
    Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
    policy.init_random(3);
    reference.init_random(3);
    TrainingConfig c = small_run(fresh_dir("accum_" + std::to_string(batch)));
    c.per_device_train_batch_size = batch;
    c.gradient_accumulation_steps = accumulation;
    c.max_steps = 3;
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.3}, c, pairs);
    trainer.precompute_reference(reference);
    const TrainResult r = trainer.train();
    return std::make_pair(parameters_of(policy), r.last_log);
  };
  const auto [w1, log1] = run(4, 1);
  const auto [w2, log2] = run(2, 2);
  double worst = 0;
  for (std::size_t i = 0; i < w1.size(); ++i) worst = std::max(worst, std::abs(w1[i] - w2[i]) / std::max(1e-3, std::abs(w1[i])));
  INFO("worst relative weight difference " << worst);
  CHECK(worst < 1e-9);  // only the summation order of the gradient differs (Adam magnifies it on tiny gradients)
  CHECK(log1["loss"].get<double>() == Approx(log2["loss"].get<double>()).epsilon(1e-12));
  CHECK(log1["rewards/accuracies"] == log2["rewards/accuracies"]);
}

TEST_CASE("at step 0 with the policy as its own reference, DPO's loss is ln 2 and the rewards are 0", "[train]") {
  using Model = Gpt2<test::TestDevice, double>;
  Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
  policy.init_random(21);
  reference.init_random(21);
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 2);
  TrainingConfig c = small_run(fresh_dir("step0"));
  c.gradient_accumulation_steps = 1;
  SECTION("precomputed reference") {
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.1}, c, pairs);
    trainer.precompute_reference(reference);
    CHECK(trainer.compute_gradients().loss == Approx(std::log(2.0)).epsilon(1e-12));
  }
  SECTION("frozen reference model") {
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.1}, c, pairs);
    trainer.use_reference_model(reference);
    CHECK(trainer.compute_gradients().loss == Approx(std::log(2.0)).epsilon(1e-12));
  }
}

TEST_CASE("a frozen reference model and precomputed reference log-probs train and evaluate alike", "[train]") {
  using Model = Gpt2<test::TestDevice, double>;
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 27);
  const auto eval_pairs = random_pairs(3, tiny_config().vocab_size, 28);
  auto run = [&](ReferenceMode mode) {
    Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
    policy.init_random(31);
    reference.init_random(32);  // not the policy: the reference terms matter
    TrainingConfig c = small_run(fresh_dir(mode == ReferenceMode::Model ? "ref_model" : "ref_precompute"));
    c.max_steps = 3;
    c.eval_strategy = SaveStrategy::Steps;
    c.eval_steps = 3;
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.3}, c, pairs, eval_pairs);
    if (mode == ReferenceMode::Model) trainer.use_reference_model(reference);
    else trainer.precompute_reference(reference);
    const TrainResult r = trainer.train();
    return std::make_tuple(parameters_of(policy), r.last_log, r.last_eval);
  };
  const auto [w_model, log_model, eval_model] = run(ReferenceMode::Model);
  const auto [w_pre, log_pre, eval_pre] = run(ReferenceMode::Precompute);
  // The reference sums come from forwards over differently packed batches (the training
  // micro-batches vs precompute_ref_batch_size pairs), so they agree to rounding, not bit for bit.
  double worst = 0;
  for (std::size_t i = 0; i < w_model.size(); ++i) worst = std::max(worst, std::abs(w_model[i] - w_pre[i]));
  CHECK(worst < 1e-9);
  for (const char* key : {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen"})
    CHECK(log_model[key].get<double>() == Approx(log_pre[key].get<double>()).epsilon(1e-9));
  for (const char* key : {"eval_loss", "eval_rewards/chosen", "eval_rewards/rejected", "eval_logps/rejected"})
    CHECK(eval_model[key].get<double>() == Approx(eval_pre[key].get<double>()).epsilon(1e-9));
  CHECK(eval_model["eval_rewards/chosen"].get<double>() != 0.0);  // the reference really was another model
}

TEST_CASE("training logs TRL's metric names to metrics.jsonl and lowers the DPO loss", "[train]") {
  using Model = Gpt2<test::TestDevice, float>;
  Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
  policy.init_random(4);
  reference.init_random(4);
  const auto dir = fresh_dir("metrics");
  TrainingConfig c = small_run(dir);
  c.max_steps = 12;
  c.logging_steps = 4;
  c.learning_rate = 3e-3;
  c.eval_strategy = SaveStrategy::Steps;
  c.eval_steps = 6;
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 17);
  Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.5}, c, pairs, random_pairs(3, tiny_config().vocab_size, 18));
  trainer.precompute_reference(reference);
  const TrainResult r = trainer.train();
  CHECK(r.global_step == 12);
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 5);  // train logs at 4, 8, 12; evals at 6, 12
  for (const char* key : {"loss", "grad_norm", "learning_rate", "epoch", "rewards/chosen", "rewards/rejected",
                          "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"})
    CHECK(lines[0].contains(key));
  CHECK(lines[1]["step"] == 6);
  CHECK(lines[1].contains("eval_loss"));
  CHECK(lines[1].contains("eval_rewards/accuracies"));
  CHECK(lines[0]["loss"].get<double>() < std::log(2.0) + 1e-6);
  CHECK(lines[3]["step"] == 12);
  CHECK(lines[3]["loss"].get<double>() < lines[0]["loss"].get<double>());
  CHECK(std::filesystem::exists(dir / "model.safetensors"));
}

TEST_CASE("a run resumed from a checkpoint ends with the same weights, bit for bit", "[train]") {
  using Model = Gpt2<test::TestDevice, float>;
  const auto pairs = random_pairs(10, tiny_config().vocab_size, 23);
  auto make_config = [&](const std::filesystem::path& dir) {
    TrainingConfig c = small_run(dir);
    c.max_steps = 7;  // 10 pairs, 2 x 2 per step: 3 steps per epoch, the last one short
    c.save_strategy = SaveStrategy::Steps;
    c.save_steps = 2;
    c.save_total_limit = 2;
    c.logging_steps = 3;
    c.warmup_steps = 2;
    c.weight_decay = 0.01;
    return c;
  };
  auto fresh_models = [](Model& policy, Model& reference) {
    policy.init_random(8);
    reference.init_random(8);
  };
  const auto dir_a = fresh_dir("resume_a");
  std::vector<float> uninterrupted;
  std::string log_a;
  {
    Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
    fresh_models(policy, reference);
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.3}, make_config(dir_a), pairs);
    trainer.precompute_reference(reference);
    trainer.train();
    uninterrupted = parameters_of(policy);
    std::ifstream in(dir_a / "metrics.jsonl");
    log_a.assign(std::istreambuf_iterator<char>(in), {});
  }
  // save_total_limit 2: checkpoints 4 and 6 remain.
  const auto kept = list_checkpoints(dir_a);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].filename() == "checkpoint-4");
  CHECK(kept[1].filename() == "checkpoint-6");

  for (const char* from : {"checkpoint-4", "checkpoint-6"}) {
    DYNAMIC_SECTION("resumed from " << from) {
      const auto dir_b = fresh_dir(std::string("resume_b_") + from);
      std::filesystem::create_directories(dir_b);
      std::filesystem::copy(dir_a / from, dir_b / from);
      std::filesystem::copy_file(dir_a / "reference_logps.json", dir_b / "reference_logps.json");
      // metrics.jsonl as a killed run would have left it: all of it, and a torn last line.
      {
        std::ofstream out(dir_b / "metrics.jsonl");
        out << log_a << "{\"step\": 7, \"lo";
      }
      Model policy(tiny_config()), reference(tiny_config(), test::TestDevice{}, GradientMemory::none);
      policy.init_random(999);  // overwritten by the checkpoint
      reference.init_random(8);
      Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.3}, make_config(dir_b), pairs);
      trainer.precompute_reference(reference);  // served from the copied cache
      trainer.train(dir_b);
      const std::vector<float> resumed = parameters_of(policy);
      REQUIRE(resumed.size() == uninterrupted.size());
      CHECK(std::memcmp(resumed.data(), uninterrupted.data(), resumed.size() * sizeof(float)) == 0);
      std::ifstream in(dir_b / "metrics.jsonl");
      const std::string log_b((std::istreambuf_iterator<char>(in)), {});
      CHECK(log_b == log_a);
    }
  }
}

TEST_CASE("resuming with a different batch shape is refused with the reason", "[train]") {
  using Model = Gpt2<test::TestDevice, float>;
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 31);
  const auto dir = fresh_dir("refuse");
  Model policy(tiny_config());
  policy.init_random(1);
  {
    TrainingConfig c = small_run(dir);
    c.save_strategy = SaveStrategy::Steps;
    c.save_steps = 1;
    c.max_steps = 1;
    Trainer<Model, loss::SimPo> trainer(policy, loss::SimPo{}, c, pairs);
    trainer.train();
  }
  TrainingConfig c = small_run(dir);
  c.per_device_train_batch_size = 4;
  Trainer<Model, loss::SimPo> trainer(policy, loss::SimPo{}, c, pairs);
  CHECK_THROWS_WITH(trainer.train(dir), Catch::Contains("per_device_train_batch_size") && Catch::Contains("checkpoint-1"));
}

namespace {
// SimPO whose loss is NaN when `poisoned` — a pure function, as a loss must be (it runs one GPU
// thread per pair on the CUDA device), so a run resumed with it goes bad on its first step.
struct PoisonedSimPo {
  static constexpr const char* name = "poisoned-simpo";
  static constexpr bool needs_reference = false;
  static constexpr bool uses_rejected = true;
  static constexpr loss::LogpReduction reduction = loss::LogpReduction::Sum;
  static constexpr loss::Normalization normalization = loss::Normalization::PerPair;
  bool poisoned = false;
  void validate() const {}
  PREFOPT_HOST_DEVICE loss::PairLoss operator()(const loss::PairLogps& p) const noexcept {
    loss::PairLoss r = loss::SimPo{}(p);
    if (poisoned) r.loss = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
};
}  // namespace

TEST_CASE("a non-finite loss stops training with the step, and the last checkpoint stays valid", "[train]") {
  using Model = Gpt2<test::TestDevice, float>;
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 41);
  const auto dir = fresh_dir("nan");
  TrainingConfig c = small_run(dir);
  c.save_strategy = SaveStrategy::Steps;
  c.save_steps = 1;
  Model policy(tiny_config());
  policy.init_random(1);
  {
    Trainer<Model, PoisonedSimPo> trainer(policy, PoisonedSimPo{false}, c, pairs);
    trainer.train();
  }
  // As if the run had been killed after step 2: checkpoints 1 and 2 remain.
  std::filesystem::remove_all(dir / "checkpoint-3");
  std::filesystem::remove_all(dir / "checkpoint-4");
  auto weights_of = [](const std::filesystem::path& checkpoint) {
    Model m(load_hf_config(checkpoint));
    std::vector<float> host(static_cast<std::size_t>(m.num_parameters()));
    load_hf_parameters(checkpoint, m.parameter_table(), host.data());
    return host;
  };
  const std::vector<float> at_step_2 = weights_of(dir / "checkpoint-2");
  Trainer<Model, PoisonedSimPo> trainer(policy, PoisonedSimPo{true}, c, pairs);  // resumes; step 3 goes bad
  CHECK_THROWS_WITH(trainer.train(dir), Catch::Contains("step 3: non-finite loss") && Catch::Contains("on training pair") &&
                                            Catch::Contains("checkpoint-2"));
  // Stopped before the optimizer step: the weights are still step 2's, and so is the checkpoint.
  const std::vector<float> after = parameters_of(policy);
  REQUIRE(after.size() == at_step_2.size());
  CHECK(std::memcmp(after.data(), at_step_2.data(), after.size() * sizeof(float)) == 0);
  const auto saved = list_checkpoints(dir);
  REQUIRE(saved.size() == 2);
  CHECK(weights_of(saved.back()) == at_step_2);
}

namespace {
// The test device, logging where a training step reads back: 'c' for each device-to-host copy,
// 'u' for each AdamW update it is handed (one per parameter group). The kernels take the base
// device and find it by ADL through the derived type; adamw_update finds the overload below.
struct CopyCountingDevice : test::TestDevice {
  static inline int copies_to_host = 0;
  static inline std::string events;
  template <class T>
  void copy_to_host(const T* src, index_t n, T* dst) const {
    ++copies_to_host;
    events += 'c';
    test::TestDevice::copy_to_host(src, n, dst);
  }
};
template <class S>
void adamw_update(const CopyCountingDevice& d, S* params, const S* grads, S* exp_avg, S* exp_avg_sq, index_t n,
                  const AdamWStepParams& p) {
  CopyCountingDevice::events += 'u';
  adamw_update(static_cast<const test::TestDevice&>(d), params, grads, exp_avg, exp_avg_sq, n, p);
}
}  // namespace

TEST_CASE("a training step reads back from the device once, after its optimizer update is queued", "[train]") {
  using Model = Gpt2<CopyCountingDevice, float>;
  const auto pairs = random_pairs(8, tiny_config().vocab_size, 17);
  for (ReferenceMode mode : {ReferenceMode::Precompute, ReferenceMode::Model}) {
    INFO((mode == ReferenceMode::Model ? "frozen reference model" : "precomputed reference"));
    Model policy(tiny_config()), reference(tiny_config(), CopyCountingDevice{}, GradientMemory::none);
    policy.init_random(5);
    reference.init_random(6);
    TrainingConfig c = small_run(fresh_dir(mode == ReferenceMode::Model ? "copies_model" : "copies_precompute"));
    c.reference = mode;  // 2 micro-batches of 2 pairs per step
    c.max_steps = 2;
    Trainer<Model, loss::Dpo> trainer(policy, loss::Dpo{0.3}, c, pairs);
    if (mode == ReferenceMode::Model) trainer.use_reference_model(reference);
    else trainer.precompute_reference(reference);
    CopyCountingDevice::copies_to_host = 0;
    const auto step = trainer.compute_gradients();
    CHECK(CopyCountingDevice::copies_to_host == 1);  // the step's PairLoss records, nothing per micro-batch
    CHECK(std::isfinite(step.loss));
    CHECK(step.pairs == 4);
    // Whole optimizer steps: backward, clip and the update of every parameter group queue first;
    // then the step's one wait, for its PairLoss records and the clip's verdict (two copies). The
    // final save copies the weights.
    CopyCountingDevice::events.clear();
    trainer.train();
    const std::string one_step = std::string(trainer.optimizer().groups().size(), 'u') + "cc";
    REQUIRE(CopyCountingDevice::events.size() > 2 * one_step.size());
    CHECK(CopyCountingDevice::events.substr(0, 2 * one_step.size()) == one_step + one_step);
    CHECK(CopyCountingDevice::events.find('u', 2 * one_step.size()) == std::string::npos);
    CHECK(trainer.last_clip().proceed == 1);
    CHECK(trainer.last_clip().total_norm > 0);
  }
}

TEST_CASE("the trainer rejects pairs that do not fit the model, naming the pair", "[train]") {
  using Model = Gpt2<test::TestDevice, float>;
  Model policy(tiny_config());
  auto pairs = random_pairs(3, tiny_config().vocab_size, 1);
  pairs[2].chosen_ids.assign(20, 1);  // n_positions is 16
  CHECK_THROWS_WITH((Trainer<Model, loss::SimPo>(policy, loss::SimPo{}, small_run(fresh_dir("fit")), pairs)),
                    Catch::Contains("training pair 2") && Catch::Contains("n_positions=16"));
}

TEST_CASE("checkpoint directories appear and disappear whole; leftovers of a killed save or deletion go", "[train]") {
  namespace fs = std::filesystem;
  const auto dir = fresh_dir("checkpoint_dir");
  auto write = [&](std::int64_t step) {
    return write_checkpoint_directory(dir, step, [&](const fs::path& tmp) {
      std::ofstream(tmp / trainer_state_file) << "{\"step\": " << step << "}\n";
      std::ofstream(tmp / "payload.bin") << std::string(1000, 'x');
    });
  };
  for (std::int64_t step : {1, 2, 3}) write(step);
  // What a kill leaves: a save that never finished, and a deletion that never finished (the
  // deletion renames the checkpoint to a hidden name first, so no checkpoint-<step> is torn).
  fs::create_directories(dir / ".partial-checkpoint-4");
  fs::create_directories(dir / ".removing-checkpoint-1");
  std::ofstream(dir / ".removing-checkpoint-1" / "payload.bin") << "half deleted";
  write(4);
  CHECK_FALSE(fs::exists(dir / ".partial-checkpoint-4"));
  CHECK_FALSE(fs::exists(dir / ".removing-checkpoint-1"));
  rotate_checkpoints(dir, 2);
  const auto kept = list_checkpoints(dir);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].filename() == "checkpoint-3");
  CHECK(kept[1].filename() == "checkpoint-4");
  // Nothing else is left under checkpoint names or hidden names.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"checkpoint-3", "checkpoint-4"});
  // Saving a step again replaces that checkpoint whole.
  write(4);
  CHECK(fs::is_regular_file(dir / "checkpoint-4" / "payload.bin"));
  CHECK_FALSE(fs::exists(dir / ".removing-checkpoint-4"));
}
