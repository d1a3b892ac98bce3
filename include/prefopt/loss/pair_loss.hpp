// SPDX-License-Identifier: MIT
// The whole loss interface: a preference loss is a pure function of one pair's numbers (PairLogps)
// returning the per-pair loss, its gradient with respect to the policy's SUMMED completion
// log-probs, and what TRL logs for the pair (PairLoss). Losses never touch tensors: the trainer
// gives every completion token of y_w the weight d_policy_chosen (and of y_l d_policy_rejected)
// and the model backpropagates it into the log-softmax (../docs/losses.md; GUIDE §3).
//
// Notation (../shared/ANCHORS.md §b.1): S(y) = Σ_t log π(y_t | x, y_<t) over the completion tokens,
// EOS included; |y| their number; A(y) = S(y)/|y|; ref_* the same under the reference model.
//
// A loss policy L (checked by is_pair_loss_v<L>) is an aggregate of hyperparameters whose default
// member initialisers are the library defaults, plus
//   static constexpr const char* name;            // TRL's loss_type where one exists
//   static constexpr bool needs_reference;        // reads reference_chosen / reference_rejected
//   static constexpr bool uses_rejected;          // reads policy_rejected (false: Sft)
//   static constexpr LogpReduction reduction;     // Sum: reads S; Mean: reads A = S/|y|
//   static constexpr Normalization normalization; // how the trainer reduces per-pair losses
//   PREFOPT_HOST_DEVICE PairLoss operator()(const PairLogps&) const;  // pure: no checks, no allocation
//   void validate() const;                        // throws ArgumentError naming the bad field
// The trainer calls validate() once, not per pair. operator() runs where the model's device runs
// (train/pair_loss_kernel.hpp): one thread per pair on a GPU, so it must be a pure function of its
// argument and the policy's members, marked PREFOPT_HOST_DEVICE (__host__ __device__ under nvcc,
// nothing otherwise), and the policy trivially copyable. On the CPU device the pairs run in order
// on the calling thread.
#pragma once

#include <cmath>
#include <type_traits>
#include <utility>

#include "prefopt/core/config.hpp"
#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"

namespace prefopt::loss {

/// How a loss reads the completion log-probs: S(y) (Sum) or A(y) = S(y)/|y| (Mean). Gradients are
/// always returned with respect to S, whatever the reduction.
enum class LogpReduction { Sum, Mean };

/// How the trainer reduces per-pair losses over the pairs of one optimizer step:
///   PerPair:  mean of the per-pair losses (every preference loss; TRL's reduction after #2615);
///   PerToken: sum of the per-pair losses divided by the step's total number of CHOSEN completion
///             tokens (Sft: token-mean cross-entropy, as transformers >= 4.46 computes it over an
///             accumulated step).
enum class Normalization { PerPair, PerToken };

/// One pair's inputs, all in double. Preconditions of every loss: chosen_tokens >= 1 and
/// rejected_tokens >= 1 (a pair with an empty completion is dropped before it gets here), and the
/// log-probs are those of a real distribution (<= 0; Orpo needs them < 0, see orpo.hpp).
struct PairLogps {
  double policy_chosen = 0, policy_rejected = 0;        // S_w, S_l: summed completion log-probs under the policy
  double reference_chosen = 0, reference_rejected = 0;  // summed, under the reference (0, unused when reference-free)
  index_t chosen_tokens = 0, rejected_tokens = 0;       // |y_w|, |y_l| (completion tokens incl. EOS, >= 1)
};

/// One pair's outputs.
struct PairLoss {
  double loss = 0;
  /// dℓ/dS_w and dℓ/dS_l — ALWAYS with respect to the SUMMED log-probs, also for Mean losses (the
  /// chain rule through A = S/|y| is applied inside the loss).
  double d_policy_chosen = 0, d_policy_rejected = 0;
  /// What TRL logs as rewards/chosen, rewards/rejected (each loss says which quantity).
  double reward_chosen = 0, reward_rejected = 0;
  /// What TRL logs as logps/chosen, logps/rejected: S or A, per the loss's reduction.
  double logp_chosen = 0, logp_rejected = 0;
  /// The NLL part of the loss when it has one (Slic, Orpo, Sft), else 0; logged as nll_loss.
  double nll = 0;
};

namespace detail {
template <class T>
inline constexpr bool is_static_member_v = !std::is_member_pointer_v<T>;

template <class L, class = void>
struct is_pair_loss : std::false_type {};
template <class L>
struct is_pair_loss<L, std::void_t<decltype(&L::name), decltype(&L::needs_reference), decltype(&L::uses_rejected),
                                   decltype(&L::reduction), decltype(&L::normalization),
                                   decltype(std::declval<const L&>()(std::declval<const PairLogps&>())),
                                   decltype(std::declval<const L&>().validate())>>
    : std::bool_constant<
          // copied by value into the device's per-pair kernel (train/pair_loss_kernel.hpp)
          std::is_trivially_copyable_v<L> &&
          // static data members (a pointer to a non-static member is a member pointer)
          is_static_member_v<decltype(&L::name)> && is_static_member_v<decltype(&L::needs_reference)> &&
          is_static_member_v<decltype(&L::uses_rejected)> && is_static_member_v<decltype(&L::reduction)> &&
          is_static_member_v<decltype(&L::normalization)> &&
          std::is_convertible_v<decltype(L::name), const char*> &&
          std::is_same_v<std::remove_cv_t<decltype(L::needs_reference)>, bool> &&
          std::is_same_v<std::remove_cv_t<decltype(L::uses_rejected)>, bool> &&
          std::is_same_v<std::remove_cv_t<decltype(L::reduction)>, LogpReduction> &&
          std::is_same_v<std::remove_cv_t<decltype(L::normalization)>, Normalization> &&
          std::is_same_v<decltype(std::declval<const L&>()(std::declval<const PairLogps&>())), PairLoss> &&
          std::is_void_v<decltype(std::declval<const L&>().validate())>> {};

/// validate() helpers: `loss` and `field` name the struct and the member in the message.
inline void check_positive(const char* loss, const char* field, double value) {
  PREFOPT_CHECK(std::isfinite(value) && value > 0, loss, ": ", field, " must be finite and > 0, got ", value);
}
inline void check_non_negative(const char* loss, const char* field, double value) {
  PREFOPT_CHECK(std::isfinite(value) && value >= 0, loss, ": ", field, " must be finite and >= 0, got ", value);
}
}  // namespace detail

/// Whether L is a loss policy (see the top of this header).
template <class L>
inline constexpr bool is_pair_loss_v = detail::is_pair_loss<L>::value;

}  // namespace prefopt::loss
