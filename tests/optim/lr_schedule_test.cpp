// SPDX-License-Identifier: MIT
// Learning-rate schedules against transformers' get_scheduler lambdas run through PyTorch's
// LambdaLR (tests/reference/optim_reference.py), edge cases, warm-up length and name parsing.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "prefopt/optim/lr_schedule.hpp"

using namespace prefopt;
using json = nlohmann::json;

namespace {
const LrSchedulerType all_types[] = {LrSchedulerType::Linear, LrSchedulerType::Cosine,
                                     LrSchedulerType::Constant, LrSchedulerType::ConstantWithWarmup};
}

TEST_CASE("LR schedules equal transformers' lambdas through LambdaLR", "[optim][schedule]") {
  std::ifstream in(std::string(PREFOPT_FIXTURES_DIR) + "/adamw_golden.json");
  REQUIRE(in.good());
  const json tables = json::parse(in)["schedules"];
  const auto total = tables["total_steps"].get<std::int64_t>();
  const auto warmup = tables["warmup_steps"].get<std::int64_t>();
  for (LrSchedulerType type : all_types) {
    const std::string name = lr_scheduler_name(type);
    INFO(name);
    const auto want = tables[name].get<std::vector<double>>();
    REQUIRE(want.size() == static_cast<std::size_t>(total + 2));
    const LrSchedule schedule{parse_lr_scheduler_type(name), 1.0, warmup, total};
    for (std::size_t k = 0; k < want.size(); ++k) {
      INFO("step " << k);
      CHECK(schedule.lr(static_cast<std::int64_t>(k)) == want[k]);  // bit for bit
    }
  }
}

TEST_CASE("LR schedule shapes", "[optim][schedule]") {
  const LrSchedule linear{LrSchedulerType::Linear, 2e-5, 4, 12};
  CHECK(linear.lr(0) == 0.0);
  CHECK(linear.lr(2) == 2e-5 * 0.5);
  CHECK(linear.lr(4) == 2e-5);
  CHECK(linear.lr(8) == 2e-5 * 0.5);
  CHECK(linear.lr(12) == 0.0);
  CHECK(linear.lr(100) == 0.0);
  const LrSchedule cosine{LrSchedulerType::Cosine, 1.0, 0, 10};
  CHECK(cosine.lr(0) == 1.0);
  CHECK(cosine.lr(5) == Approx(0.5).margin(1e-15));
  CHECK(cosine.lr(10) == 0.0);
  CHECK(cosine.lr(15) == Approx(0.5).margin(1e-15));  // periodic past the end, as in transformers
  const LrSchedule constant{LrSchedulerType::Constant, 3e-4, 5, 10};
  CHECK(constant.lr(0) == 3e-4);
  CHECK(constant.lr(50) == 3e-4);
  const LrSchedule cww{LrSchedulerType::ConstantWithWarmup, 1.0, 4, 10};
  CHECK(cww.lr(1) == 0.25);
  CHECK(cww.lr(4) == 1.0);
  CHECK(cww.lr(40) == 1.0);
}

TEST_CASE("LR schedules never divide by zero and never go negative", "[optim][schedule]") {
  for (LrSchedulerType type : all_types)
    for (std::int64_t total : {0, 1, 3, 10})
      for (std::int64_t warmup : {0, 1, 3, 15}) {
        const LrSchedule s{type, 1e-3, warmup, total};
        for (std::int64_t step = 0; step <= 40; ++step) {
          INFO(lr_scheduler_name(type) << " total " << total << " warmup " << warmup << " step " << step);
          const double lr = s.lr(step);
          CHECK(std::isfinite(lr));
          CHECK(lr >= 0.0);
          CHECK(lr <= 1e-3 * (1.0 + 1e-15));
        }
      }
  const LrSchedule zero{LrSchedulerType::Linear, 1e-3, 0, 0};
  CHECK(zero.lr(0) == 0.0);  // max(0, (0 - 0) / max(1, 0))
  const LrSchedule long_warmup{LrSchedulerType::Linear, 1.0, 8, 4};
  CHECK(long_warmup.lr(2) == 0.25);
  CHECK(long_warmup.lr(8) == 0.0);
  CHECK_THROWS_AS(zero.lr(-1), ArgumentError);
  CHECK_NOTHROW(zero.validate());
  CHECK_THROWS_AS((LrSchedule{LrSchedulerType::Linear, -1.0, 0, 10}.validate()), ArgumentError);
  CHECK_THROWS_AS((LrSchedule{LrSchedulerType::Linear, 1.0, -1, 10}.validate()), ArgumentError);
  CHECK_THROWS_AS((LrSchedule{LrSchedulerType::Linear, 1.0, 0, -10}.validate()), ArgumentError);
}

TEST_CASE("warmup_steps_from follows TrainingArguments.get_warmup_steps", "[optim][schedule]") {
  CHECK(warmup_steps_from(0.1, 0, 95) == 10);    // ceil(9.5)
  CHECK(warmup_steps_from(0.1, 7, 95) == 7);     // explicit warmup_steps win
  CHECK(warmup_steps_from(0.0, 0, 100) == 0);
  CHECK(warmup_steps_from(0.07, 0, 100) == 8);   // Python: math.ceil(100 * 0.07) = ceil(7.000000000000001)
  CHECK(warmup_steps_from(0.03, 0, 1000) == 30);
  CHECK(warmup_steps_from(0.5, 0, 0) == 0);
  CHECK_THROWS_AS(warmup_steps_from(-0.1, 0, 10), ArgumentError);
  CHECK_THROWS_AS(warmup_steps_from(1.5, 0, 10), ArgumentError);
  CHECK_THROWS_AS(warmup_steps_from(0.1, -1, 10), ArgumentError);
}

TEST_CASE("parse_lr_scheduler_type accepts transformers' names only", "[optim][schedule][errors]") {
  using Catch::Matchers::Contains;
  CHECK(parse_lr_scheduler_type("linear") == LrSchedulerType::Linear);
  CHECK(parse_lr_scheduler_type("cosine") == LrSchedulerType::Cosine);
  CHECK(parse_lr_scheduler_type("constant") == LrSchedulerType::Constant);
  CHECK(parse_lr_scheduler_type("constant_with_warmup") == LrSchedulerType::ConstantWithWarmup);
  for (const char* bad : {"Linear", "cosine_with_restarts", "polynomial", "", " linear"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_lr_scheduler_type(bad), ArgumentError);
    CHECK_THROWS_WITH(parse_lr_scheduler_type(bad),
                      Contains("linear, cosine, constant, constant_with_warmup") && Contains(bad));
  }
}
