// SPDX-License-Identifier: MIT
// Learning-rate schedules of Hugging Face transformers (optimization.py, get_scheduler), with the
// warm-up length of TrainingArguments.get_warmup_steps. Each is a factor of the base lr applied by
// torch.optim.lr_scheduler.LambdaLR: step k (0-based) of the optimizer runs at base_lr * f(k).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "prefopt/core/error.hpp"

namespace prefopt {

/// transformers' SchedulerType values that prefopt implements.
enum class LrSchedulerType { Linear, Cosine, Constant, ConstantWithWarmup };

/// transformers' name of a scheduler type ("linear", "cosine", "constant", "constant_with_warmup").
inline const char* lr_scheduler_name(LrSchedulerType type) {
  switch (type) {
    case LrSchedulerType::Linear: return "linear";
    case LrSchedulerType::Cosine: return "cosine";
    case LrSchedulerType::Constant: return "constant";
    case LrSchedulerType::ConstantWithWarmup: return "constant_with_warmup";
  }
  return "unknown";
}

/// Parses transformers' lr_scheduler_type names; throws ArgumentError listing them otherwise.
inline LrSchedulerType parse_lr_scheduler_type(const std::string& name) {
  for (LrSchedulerType t : {LrSchedulerType::Linear, LrSchedulerType::Cosine, LrSchedulerType::Constant,
                            LrSchedulerType::ConstantWithWarmup})
    if (name == lr_scheduler_name(t)) return t;
  throw ArgumentError("unknown lr scheduler type '" + name +
                      "'; expected one of: linear, cosine, constant, constant_with_warmup");
}

/// TrainingArguments.get_warmup_steps: warmup_steps when positive, else ceil(total_steps * ratio).
inline std::int64_t warmup_steps_from(double warmup_ratio, std::int64_t warmup_steps,
                                      std::int64_t total_steps) {
  PREFOPT_CHECK(std::isfinite(warmup_ratio) && warmup_ratio >= 0.0 && warmup_ratio <= 1.0,
                "warmup_ratio must be in [0, 1], got ", warmup_ratio);
  PREFOPT_CHECK(warmup_steps >= 0, "warmup_steps must be >= 0, got ", warmup_steps);
  PREFOPT_CHECK(total_steps >= 0, "total_steps must be >= 0, got ", total_steps);
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

struct LrSchedule {
  LrSchedulerType type = LrSchedulerType::Linear;
  double base_lr = 0.0;
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 0;

  /// The lr of optimizer step `step` (0-based: the step about to be taken), base_lr * factor
  /// with transformers' lambdas, evaluated in double with their operation order:
  ///   warm-up (linear, cosine, constant_with_warmup), step < warmup:  step / max(1, warmup)
  ///   linear:   max(0, (total - step) / max(1, total - warmup))
  ///   cosine:   progress = (step - warmup) / max(1, total - warmup),
  ///             max(0, 0.5 * (1 + cos(pi * num_cycles * 2 * progress))), num_cycles = 0.5
  ///   constant: 1;  constant_with_warmup after warm-up: 1
  /// Past total_steps linear stays at 0 while cosine, being periodic, rises again — as in
  /// transformers. The factor is never negative and nothing divides by zero.
  double lr(std::int64_t step) const { return base_lr * factor(step); }

  /// The multiplier of base_lr at `step` (LambdaLR's lr_lambda).
  double factor(std::int64_t step) const {
    PREFOPT_CHECK(step >= 0, "LrSchedule: step must be >= 0, got ", step);
    const auto warmup_factor = [&] {
      return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
    };
    switch (type) {
      case LrSchedulerType::Linear:
        if (step < warmup_steps) return warmup_factor();
        return std::max(0.0, static_cast<double>(total_steps - step) /
                                 static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps)));
      case LrSchedulerType::Cosine: {
        if (step < warmup_steps) return warmup_factor();
        constexpr double pi = 3.141592653589793;  // math.pi
        constexpr double num_cycles = 0.5;
        const double progress =
            static_cast<double>(step - warmup_steps) /
            static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
        return std::max(0.0, 0.5 * (1.0 + std::cos(pi * num_cycles * 2.0 * progress)));
      }
      case LrSchedulerType::Constant:
        return 1.0;
      case LrSchedulerType::ConstantWithWarmup:
        return step < warmup_steps ? warmup_factor() : 1.0;
    }
    throw ArgumentError("LrSchedule: unknown scheduler type");
  }

  /// Throws ArgumentError when a field is out of range.
  void validate() const {
    PREFOPT_CHECK(std::isfinite(base_lr) && base_lr >= 0.0, "LrSchedule: base_lr must be >= 0, got ", base_lr);
    PREFOPT_CHECK(warmup_steps >= 0, "LrSchedule: warmup_steps must be >= 0, got ", warmup_steps);
    PREFOPT_CHECK(total_steps >= 0, "LrSchedule: total_steps must be >= 0, got ", total_steps);
  }
};

}  // namespace prefopt
