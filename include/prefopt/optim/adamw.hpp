// SPDX-License-Identifier: MIT
// AdamW (Loshchilov & Hutter, decoupled weight decay) as PyTorch 1.13's torch.optim.AdamW runs it
// with foreach=False, over one contiguous parameter block split into parameter groups.
// The update itself is the device kernel adamw_update (prefopt/device/cpu/optimizer_kernels.hpp
// has the formula); this class owns the moments, the step counter and the groups, and saves and
// restores its state for bit-exact resume. docs/optimizer.md describes the numerics.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/model/parameter_table.hpp"

namespace prefopt {

/// The scalars of one AdamW step, handed to every device's adamw_update. step is the 1-based
/// count of steps taken including this one (PyTorch increments state["step"] before using it);
/// weight_decay is the group's (0 for no-decay groups). proceed, when set, is a flag in device
/// memory that an earlier kernel of the same step wrote (the gradient clip's verdict,
/// optim/grad_clip.hpp): 0 leaves the parameters and both moments untouched, so a step found bad on
/// the device is called off there, without the host reading anything first.
struct AdamWStepParams {
  double lr = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  std::int64_t step = 1;
  const std::int32_t* proceed = nullptr;
};

/// AdamW's hyperparameters other than the learning rate. Defaults are Hugging Face
/// TrainingArguments' (adam_beta1, adam_beta2, adam_epsilon, weight_decay), which TRL's trainers
/// inherit; torch.optim.AdamW's own default weight_decay is 0.01.
struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;

  /// Throws ArgumentError naming the field, with torch.optim.AdamW's ranges.
  void validate() const {
    PREFOPT_CHECK(std::isfinite(beta1) && beta1 >= 0.0 && beta1 < 1.0,
                  "AdamWConfig: beta1 must be in [0, 1), got ", beta1);
    PREFOPT_CHECK(std::isfinite(beta2) && beta2 >= 0.0 && beta2 < 1.0,
                  "AdamWConfig: beta2 must be in [0, 1), got ", beta2);
    PREFOPT_CHECK(std::isfinite(eps) && eps >= 0.0, "AdamWConfig: eps must be >= 0, got ", eps);
    PREFOPT_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0,
                  "AdamWConfig: weight_decay must be >= 0, got ", weight_decay);
  }
};

/// A slice [offset, offset + size) of the parameter block and whether weight decay applies to it.
struct ParamGroup {
  index_t offset = 0;
  index_t size = 0;
  bool decay = true;
};

inline bool operator==(const ParamGroup& a, const ParamGroup& b) {
  return a.offset == b.offset && a.size == b.size && a.decay == b.decay;
}

/// Whether Hugging Face's Trainer applies weight decay to the parameter with this HF name.
/// Trainer.get_decay_parameter_names: every parameter except those inside a LayerNorm module
/// (GPT-2's ln_1, ln_2, ln_f) and those whose name contains "bias".
inline bool hf_decays(const std::string& name) {
  if (name.find("bias") != std::string::npos) return false;
  const std::string::size_type last = name.rfind('.');
  const std::string head = last == std::string::npos ? std::string() : name.substr(0, last);
  const std::string::size_type prev = head.rfind('.');
  const std::string module = prev == std::string::npos ? head : head.substr(prev + 1);  // "ln_1"
  return module.compare(0, 3, "ln_") != 0;
}

/// Hugging Face Trainer's split of the parameter block into decay / no-decay groups: one group per
/// run of adjacent table entries with the same flag, in block order.
inline std::vector<ParamGroup> hf_param_groups(const ParameterTable& table) {
  std::vector<ParamGroup> groups;
  for (const ParameterEntry& e : table.entries()) {
    const bool decay = hf_decays(e.name);
    if (!groups.empty() && groups.back().decay == decay &&
        groups.back().offset + groups.back().size == e.offset)
      groups.back().size += e.size;
    else
      groups.push_back(ParamGroup{e.offset, e.size, decay});
  }
  return groups;
}

template <class Device, class Scalar = float>
class AdamW {
 public:
  using device_type = Device;
  using scalar_type = Scalar;
  template <class T>
  using vector = typename Device::template vector<T>;

  /// One group covering all n_params parameters, with weight decay.
  AdamW(index_t n_params, const AdamWConfig& config = {}, Device device = {})
      : AdamW(n_params, {ParamGroup{0, n_params, true}}, config, device) {}

  /// Parameters outside every group are left untouched by step(). Groups must not overlap.
  AdamW(index_t n_params, std::vector<ParamGroup> groups, const AdamWConfig& config = {},
        Device device = {})
      : config_(config), n_(n_params), device_(device) {
    config_.validate();
    PREFOPT_CHECK(n_params >= 0, "AdamW: the number of parameters must be >= 0, got ", n_params);
    for (const ParamGroup& g : groups) {
      PREFOPT_CHECK(g.offset >= 0 && g.size >= 0 && g.offset + g.size <= n_params,
                    "AdamW: parameter group [", g.offset, ", ", g.offset + g.size,
                    ") is outside the parameter block of ", n_params);
      if (g.size > 0) groups_.push_back(g);
    }
    std::vector<ParamGroup> sorted = groups_;
    std::sort(sorted.begin(), sorted.end(),
              [](const ParamGroup& a, const ParamGroup& b) { return a.offset < b.offset; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
      PREFOPT_CHECK(sorted[i - 1].offset + sorted[i - 1].size <= sorted[i].offset,
                    "AdamW: parameter groups overlap at element ", sorted[i].offset);
    // Value-initialised: both moments start at zero, as torch.zeros_like in AdamW's state init.
    exp_avg_.resize(static_cast<std::size_t>(n_));
    exp_avg_sq_.resize(static_cast<std::size_t>(n_));
  }

  /// Hugging Face Trainer's decay / no-decay split of a GPT-2 parameter block.
  static std::vector<ParamGroup> hf_param_groups(const ParameterTable& table) {
    return ::prefopt::hf_param_groups(table);
  }

  /// One optimizer step: params (n) updated in place from grads (n) with learning rate lr.
  /// Both are device pointers into blocks of n_params elements. `proceed` (device memory, or
  /// nullptr) lets a kernel queued before this call off the update (0: nothing changes on the
  /// device); the step is counted either way, and the caller that gated it stops training.
  void step(Scalar* params, const Scalar* grads, double lr, const std::int32_t* proceed = nullptr) {
    PREFOPT_CHECK(std::isfinite(lr) && lr >= 0.0, "AdamW::step: lr must be finite and >= 0, got ", lr);
    ++step_;
    for (const ParamGroup& g : groups_) {
      const AdamWStepParams p{lr, config_.beta1, config_.beta2, config_.eps,
                              g.decay ? config_.weight_decay : 0.0, step_, proceed};
      adamw_update(device_, params + g.offset, grads + g.offset, exp_avg_.data() + g.offset,
                   exp_avg_sq_.data() + g.offset, g.size, p);
    }
  }

  const AdamWConfig& config() const noexcept { return config_; }
  const std::vector<ParamGroup>& groups() const noexcept { return groups_; }
  index_t size() const noexcept { return n_; }
  /// Steps taken so far (PyTorch's state["step"]).
  std::int64_t step_count() const noexcept { return step_; }
  /// First and second moments (n_params each), device pointers.
  const Scalar* exp_avg() const noexcept { return exp_avg_.data(); }
  const Scalar* exp_avg_sq() const noexcept { return exp_avg_sq_.data(); }

  /// Copies the moments to host buffers of n_params elements each.
  void save(Scalar* host_exp_avg, Scalar* host_exp_avg_sq) const {
    device_.copy_to_host(exp_avg_.data(), n_, host_exp_avg);
    device_.copy_to_host(exp_avg_sq_.data(), n_, host_exp_avg_sq);
  }
  /// Restores a state written by save() with the step count step_count() had then; the next
  /// step() continues bit for bit as the saved optimizer would have.
  void restore(std::int64_t step, const Scalar* host_exp_avg, const Scalar* host_exp_avg_sq) {
    PREFOPT_CHECK(step >= 0, "AdamW::restore: step must be >= 0, got ", step);
    device_.copy_from_host(host_exp_avg, n_, exp_avg_.data());
    device_.copy_from_host(host_exp_avg_sq, n_, exp_avg_sq_.data());
    step_ = step;
  }

 private:
  AdamWConfig config_;
  index_t n_ = 0;
  std::vector<ParamGroup> groups_;
  Device device_;
  vector<Scalar> exp_avg_;
  vector<Scalar> exp_avg_sq_;
  std::int64_t step_ = 0;
};

}  // namespace prefopt
