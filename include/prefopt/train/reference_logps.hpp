// SPDX-License-Identifier: MIT
// Precomputed reference log-probs (TRL's precompute_ref_log_probs), as a cached artifact: one
// inference pass of the reference model over the pairs before training, written beside the run
// as JSON (doubles round-trip exactly), keyed by a hash of the reference weights and the token
// ids of every pair. A later run or a resume with the same key reads the file instead of loading
// and running the reference again; any other key is recomputed (never silently reused).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/data/tokenize_pair.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/train/pair_scoring.hpp"

namespace prefopt {

/// 64-bit FNV-1a (Fowler-Noll-Vo), incremental. Not cryptographic: it guards against using a
/// cache made for other weights or data by mistake, not against an adversary.
class Fnv1a64 {
 public:
  void add(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001B3ull;
    }
  }
  template <class T>
  void add_value(const T& v) noexcept { add(&v, sizeof v); }
  std::uint64_t value() const noexcept { return h_; }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ull;
};

/// Hash of the token ids of `pairs` (lengths included, so boundaries count).
inline std::string pairs_fingerprint(const std::vector<TokenizedPair>& pairs) {
  Fnv1a64 h;
  h.add_value(static_cast<std::uint64_t>(pairs.size()));
  for (const auto& p : pairs)
    for (const std::vector<token_t>* ids : {&p.prompt_ids, &p.chosen_ids, &p.rejected_ids}) {
      h.add_value(static_cast<std::uint64_t>(ids->size()));
      h.add(ids->data(), ids->size() * sizeof(token_t));
    }
  return h.hex();
}

/// Hash of a host parameter block.
template <class Scalar>
std::string parameters_fingerprint(const Scalar* host, index_t n) {
  Fnv1a64 h;
  h.add_value(static_cast<std::uint64_t>(n));
  h.add(host, static_cast<std::size_t>(n) * sizeof(Scalar));
  return h.hex();
}

/// Reference completion log-prob sums per pair, plus the key they were computed for.
struct ReferenceLogps {
  std::string key;
  std::vector<double> chosen, rejected;  // rejected empty when only chosen was scored

  index_t size() const noexcept { return static_cast<index_t>(chosen.size()); }
};

/// The cache key: reference weights, pairs and what was scored.
inline std::string reference_key(const std::string& weights_fingerprint, const std::vector<TokenizedPair>& pairs,
                                 PairSequences what) {
  return "weights=" + weights_fingerprint + ";pairs=" + pairs_fingerprint(pairs) +
         ";sequences=" + (what == PairSequences::ChosenAndRejected ? "chosen+rejected" : "chosen");
}

inline void save_reference_logps(const std::filesystem::path& path, const ReferenceLogps& r) {
  nlohmann::json j;
  j["format"] = "prefopt.reference_logps.v1";
  j["key"] = r.key;
  j["chosen"] = r.chosen;
  j["rejected"] = r.rejected;
  write_file_atomically(path, j.dump() + "\n");
}

/// The cached log-probs at `path` when it exists and was made for `key` with `n_pairs` pairs;
/// nothing when it is absent or made for something else. A file that exists but cannot be parsed
/// is an error (CheckpointError naming it), not a silent recompute.
inline std::optional<ReferenceLogps> load_reference_logps(const std::filesystem::path& path, const std::string& key,
                                                          index_t n_pairs) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
    if (j.at("format").get<std::string>() != "prefopt.reference_logps.v1")
      throw CheckpointError(path.string(), "not a prefopt reference log-prob file (format " + j.at("format").dump() + ")");
    ReferenceLogps r;
    r.key = j.at("key").get<std::string>();
    if (r.key != key) return std::nullopt;
    r.chosen = j.at("chosen").get<std::vector<double>>();
    r.rejected = j.at("rejected").get<std::vector<double>>();
    if (r.size() != n_pairs || (!r.rejected.empty() && r.rejected.size() != r.chosen.size()))
      throw CheckpointError(path.string(), "holds " + std::to_string(r.chosen.size()) + " pairs, expected " +
                                               std::to_string(n_pairs));
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(path.string(), std::string("malformed reference log-prob file: ") + e.what());
  }
}

/// Scores `pairs` with `reference` (inference mode) into a ReferenceLogps for `key`.
template <class Model, class OnBatch>
ReferenceLogps compute_reference_logps(Model& reference, const std::vector<TokenizedPair>& pairs, index_t batch_size,
                                       PairSequences what, std::string key, OnBatch&& on_batch) {
  PairSums sums = score_pairs(reference, pairs, batch_size, what, on_batch);
  ReferenceLogps r;
  r.key = std::move(key);
  r.chosen = std::move(sums.chosen);
  r.rejected = std::move(sums.rejected);
  return r;
}

}  // namespace prefopt
