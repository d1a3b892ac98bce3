// SPDX-License-Identifier: MIT
// prefopt score: what a loss sees for each pair, without training — policy and reference
// completion log-probs (sum and mean) and token counts of chosen and rejected, the loss and the
// rewards, one JSON line per pair, then a line with the means and the reward accuracy.
// Without --ref, a loss that needs a reference scores against reference log-probs of 0 (TRL
// 0.12-0.28's reference_free=True).
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "training.hpp"

namespace prefopt::cli {
namespace {

template <class Loss>
int score_with(const Loss& loss, CpuModel& policy, CpuModel* reference, const std::vector<TokenizedPair>& pairs,
               index_t batch_size) {
  loss.validate();
  const PairSequences what = Loss::uses_rejected ? PairSequences::ChosenAndRejected : PairSequences::ChosenOnly;
  const PairSums pol = score_pairs(policy, pairs, batch_size, what);
  PairSums ref;
  if (reference != nullptr && Loss::needs_reference) ref = score_pairs(*reference, pairs, batch_size, what);
  MetricSums sums;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    loss::PairLogps p;
    p.policy_chosen = pol.chosen[i];
    p.chosen_tokens = static_cast<index_t>(pairs[i].chosen_ids.size());
    p.rejected_tokens = static_cast<index_t>(pairs[i].rejected_ids.size());
    if (Loss::uses_rejected) p.policy_rejected = pol.rejected[i];
    if (!ref.chosen.empty()) {
      p.reference_chosen = ref.chosen[i];
      if (Loss::uses_rejected) p.reference_rejected = ref.rejected[i];
    }
    const loss::PairLoss r = loss(p);
    sums.add(r, r.loss, Loss::normalization == loss::Normalization::PerToken ? static_cast<double>(p.chosen_tokens) : 1.0);
    nlohmann::ordered_json line;
    line["pair"] = i;
    line["chosen_tokens"] = p.chosen_tokens;
    line["policy_chosen_sum"] = p.policy_chosen;
    line["policy_chosen_mean"] = p.policy_chosen / static_cast<double>(p.chosen_tokens);
    if (Loss::uses_rejected) {
      line["rejected_tokens"] = p.rejected_tokens;
      line["policy_rejected_sum"] = p.policy_rejected;
      line["policy_rejected_mean"] = p.policy_rejected / static_cast<double>(p.rejected_tokens);
    }
    if (!ref.chosen.empty()) {
      line["reference_chosen_sum"] = p.reference_chosen;
      line["reference_chosen_mean"] = p.reference_chosen / static_cast<double>(p.chosen_tokens);
      if (Loss::uses_rejected) {
        line["reference_rejected_sum"] = p.reference_rejected;
        line["reference_rejected_mean"] = p.reference_rejected / static_cast<double>(p.rejected_tokens);
      }
    }
    line["loss"] = r.loss;
    line["reward_chosen"] = r.reward_chosen;
    line["reward_rejected"] = r.reward_rejected;
    std::cout << line.dump() << "\n";
  }
  nlohmann::ordered_json summary;
  summary["summary"] = true;
  summary["pairs"] = pairs.size();
  summary["loss_type"] = Loss::name;
  const nlohmann::ordered_json means = sums.to_json("", Loss::uses_rejected, false);  // named: items() only views it
  for (auto it = means.begin(); it != means.end(); ++it) summary[it.key()] = it.value();
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace

int score_command(int argc, char** argv) {
  std::string model, ref, pairs_path, tokenizer = default_tokenizer_dir(), loss_type = "dpo";
  double beta = -1, label_smoothing = 0, simpo_gamma = 0.5, slic_delta = 1.0, slic_lambda = 0.1;
  index_t batch_size = 8;
  DataFlags data;
  po::options_description options("prefopt score options");
  options.add_options()
      ("model", po::value(&model)->required(), "policy model directory")
      ("ref", po::value(&ref), "reference model directory (none: reference log-probs are 0)")
      ("pairs", po::value(&pairs_path)->required(), "JSONL pairs: text (prompt/chosen/rejected) or ids (prompt_ids/...)")
      ("tokenizer", po::value(&tokenizer)->default_value(tokenizer), "GPT-2 tokenizer when --model has none")
      ("loss-type", po::value(&loss_type)->default_value(loss_type), "dpo, ipo, hinge, slic, simpo, orpo, sft")
      ("beta", po::value(&beta), "β (λ for orpo); default 0.1")
      ("label-smoothing", po::value(&label_smoothing)->default_value(label_smoothing), "dpo: cDPO's ε")
      ("simpo-gamma", po::value(&simpo_gamma)->default_value(simpo_gamma), "simpo: γ")
      ("slic-delta", po::value(&slic_delta)->default_value(slic_delta), "slic: δ")
      ("slic-lambda", po::value(&slic_lambda)->default_value(slic_lambda), "slic: λ")
      ("batch-size", po::value(&batch_size)->default_value(batch_size), "pairs per forward")
      ("max-length", po::value(&data.max_length)->default_value(data.max_length), "text pairs: max prompt + completion tokens")
      ("max-prompt-length", po::value(&data.max_prompt_length)->default_value(data.max_prompt_length), "text pairs: max prompt tokens");
  po::variables_map vm;
  if (!parse_options(argc, argv, "usage: prefopt score --model DIR [--ref DIR] --pairs FILE [--loss-type dpo --beta 0.1]", options, vm))
    return 0;
  const std::string tok_dir = tokenizer_dir_for(model, tokenizer);
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_directory(tok_dir);
  auto policy = load_pretrained<CpuModel>(model, GradientMemory::none);
  std::unique_ptr<CpuModel> reference;
  if (!ref.empty()) reference = load_pretrained<CpuModel>(ref, GradientMemory::none);
  data.pairs = pairs_path;
  data.length_mode = "truncate";
  PairStageReport report;
  const std::vector<TokenizedPair> pairs =
      read_pairs_file({pairs_path}, tok, policy->config().vocab_size, data.tokenize_options(), report);
  if (pairs.empty()) throw DataError(pairs_path, 0, "no pairs to score");
  const double b = beta > 0 ? beta : 0.1;
  CpuModel* r = reference.get();
  if (loss_type == "dpo" || loss_type == "sigmoid") return score_with(loss::Dpo{b, label_smoothing}, *policy, r, pairs, batch_size);
  if (loss_type == "ipo") return score_with(loss::Ipo{b}, *policy, r, pairs, batch_size);
  if (loss_type == "hinge") return score_with(loss::Hinge{b}, *policy, r, pairs, batch_size);
  if (loss_type == "slic") return score_with(loss::Slic{slic_delta, slic_lambda}, *policy, r, pairs, batch_size);
  if (loss_type == "simpo") return score_with(loss::SimPo{b, simpo_gamma}, *policy, r, pairs, batch_size);
  if (loss_type == "orpo") return score_with(loss::Orpo{b}, *policy, r, pairs, batch_size);
  if (loss_type == "sft") return score_with(loss::Sft{}, *policy, r, pairs, batch_size);
  throw UsageError("--loss-type must be one of dpo, ipo, hinge, slic, simpo, orpo, sft; got " + loss_type);
}

}  // namespace prefopt::cli
