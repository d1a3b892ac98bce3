// SPDX-License-Identifier: MIT
// Generation benchmark: tokens/s of greedy decoding with the key/value cache (prefopt::generate:
// one batched prefill, then one position per sequence and step) against recomputation (a full
// forward over each growing prefix per step, Gpt2::last_logits), and whether both give the same
// tokens. New tokens/s counts every sequence's new tokens; EOS is disabled, so each sequence
// makes exactly --new-tokens. Prints one JSON line.
//
//   bench_generate --config small --batch 1 --prompt-len 32 --new-tokens 100
//   bench_generate --config 124m --batch 4 --recompute-repeats 1
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "bench_common.hpp"
#include "prefopt/core/random.hpp"
#include "prefopt/device/cpu.hpp"
#include "prefopt/model/generate.hpp"
#include "prefopt/model/gpt2.hpp"

namespace po = boost::program_options;
using namespace prefopt;

namespace {

using Model = Gpt2<CpuDevice, float>;

// Greedy decoding by recomputing the whole prefix of every sequence at every step.
std::vector<std::vector<token_t>> generate_by_recomputation(Model& model, const std::vector<std::vector<token_t>>& prompts,
                                                            index_t new_tokens) {
  const index_t V = model.config().vocab_size;
  std::vector<std::vector<token_t>> seqs = prompts, out(prompts.size());
  std::vector<float> logits(prompts.size() * static_cast<std::size_t>(V));
  PackedBatch batch;
  for (index_t step = 0; step < new_tokens; ++step) {
    batch.clear();
    for (const auto& s : seqs) batch.add_sequence(s, std::vector<token_t>(s.size(), no_target));
    model.last_logits(batch, logits.data());
    for (std::size_t b = 0; b < seqs.size(); ++b) {
      const token_t t = LogitsSampler::greedy(logits.data() + b * V, V);
      seqs[b].push_back(t);
      out[b].push_back(t);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_name = "small";
  index_t batch = 1, prompt_len = 32, new_tokens = 100;
  int repeats = 3, recompute_repeats = 1;
  po::options_description opts("bench_generate options");
  opts.add_options()("help", "show this help")
      ("config", po::value(&config_name)->default_value(config_name), "small (4 layers, 4 heads, 256 wide) or 124m")
      ("batch", po::value(&batch)->default_value(batch), "prompts generated together")
      ("prompt-len", po::value(&prompt_len)->default_value(prompt_len), "tokens per prompt")
      ("new-tokens", po::value(&new_tokens)->default_value(new_tokens), "new tokens per prompt")
      ("repeats", po::value(&repeats)->default_value(repeats), "timed KV-cache runs (median reported), after one warm-up")
      ("recompute-repeats", po::value(&recompute_repeats)->default_value(recompute_repeats),
       "timed recomputation runs (median; 0 skips the baseline)");
  po::variables_map vm;
  if (const auto status = bench::parse_flags(opts, argc, argv, vm, "bench_generate")) return *status;
  const std::optional<Gpt2Config> maybe_config = bench::config_by_name(config_name, "bench_generate");
  if (!maybe_config) return 2;
  const Gpt2Config config = *maybe_config;

  try {
    Model model(config, CpuDevice{}, GradientMemory::none);
    model.init_random(0);
    std::fprintf(stderr, "bench_generate: %s, %lld parameters, batch %lld, prompt %lld, %lld new tokens, %d threads\n",
                 config_name.c_str(), static_cast<long long>(model.num_parameters()), static_cast<long long>(batch),
                 static_cast<long long>(prompt_len), static_cast<long long>(new_tokens), max_threads());
    Random rng(1);
    std::vector<std::vector<token_t>> prompts(static_cast<std::size_t>(batch));
    for (auto& p : prompts)
      for (index_t t = 0; t < prompt_len; ++t) p.push_back(static_cast<token_t>(rng.below(config.vocab_size)));

    GenerationConfig g;
    g.max_new_tokens = new_tokens;
    g.eos_token_id = -1;
    auto cache = make_generation_cache(model, prompts, g);
    std::vector<std::vector<token_t>> kv_out;
    const double kv_s = bench::time_median(1, repeats, [&] { kv_out = generate(model, prompts, g, cache); });

    // Prefill alone (the first call of generate), to separate it from the per-token cost.
    std::vector<index_t> slots, offsets = {0};
    std::vector<token_t> tokens;
    for (index_t b = 0; b < batch; ++b) {
      slots.push_back(b);
      tokens.insert(tokens.end(), prompts[b].begin(), prompts[b].end());
      offsets.push_back(static_cast<index_t>(tokens.size()));
    }
    std::vector<float> logits(static_cast<std::size_t>(batch * config.vocab_size));
    const double prefill_s = bench::time_median(1, repeats, [&] {
      cache.reset();
      model.decode(cache, slots, tokens, offsets, logits.data());
    });

    double re_s = 0;
    bool match = true;
    if (recompute_repeats > 0) {
      std::vector<std::vector<token_t>> re_out;
      re_s = bench::time_median(0, recompute_repeats, [&] { re_out = generate_by_recomputation(model, prompts, new_tokens); });
      match = re_out == kv_out;
    }
    const double n_new = static_cast<double>(batch * new_tokens);
    const double decode_s = kv_s - prefill_s;
    std::printf(
        "{\"impl\":\"prefopt\",\"device\":\"cpu\",\"threads\":%d,\"config\":\"%s\",\"parameters\":%lld,\"batch\":%lld,"
        "\"prompt_len\":%lld,\"new_tokens\":%lld,\"kv_tokens_per_s\":%.1f,\"kv_s_median\":%.4f,\"prefill_s\":%.4f,"
        "\"kv_decode_tokens_per_s\":%.1f,\"recompute_tokens_per_s\":%.2f,\"recompute_s\":%.3f,\"speedup\":%.1f,"
        "\"outputs_match\":%s,\"kv_cache_mib\":%.1f,\"peak_rss_mib\":%.1f}\n",
        max_threads(), config_name.c_str(), static_cast<long long>(model.num_parameters()),
        static_cast<long long>(batch), static_cast<long long>(prompt_len), static_cast<long long>(new_tokens),
        n_new / kv_s, kv_s, prefill_s, decode_s > 0 ? n_new / decode_s : 0.0, re_s > 0 ? n_new / re_s : 0.0, re_s,
        re_s > 0 ? re_s / kv_s : 0.0, recompute_repeats > 0 ? (match ? "true" : "false") : "null",
        cache.bytes() / 1048576.0, bench::peak_rss_mib());
  } catch (const std::exception& e) {
    std::cerr << "bench_generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
