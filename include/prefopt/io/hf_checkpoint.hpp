// SPDX-License-Identifier: MIT
// Hugging Face GPT-2 checkpoints (a directory with config.json + model.safetensors, or sharded
// model-0000k-of-0000n.safetensors + model.safetensors.index.json) <-> a host parameter block laid
// out by ParameterTable. Layouts are Hugging Face's (Conv1D weights [in, out]), so loading is a
// per-tensor copy with dtype conversion and saving is a per-tensor copy to F32.
//
// Loading is strict: every table tensor must be present once with its exact shape; the only extra
// tensors accepted are the attention-mask buffers older transformers saved (h.N.attn.bias,
// h.N.attn.masked_bias) and an lm_head.weight equal to wte (GPT-2 ties them). Everything else is an
// error naming the tensor, so a checkpoint of a different architecture is never half-loaded.
// docs/checkpoints.md lists the rules and messages.
#pragma once

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/hf_config.hpp"
#include "prefopt/io/json_guard.hpp"
#include "prefopt/io/mapped_file.hpp"
#include "prefopt/io/safetensors.hpp"
#include "prefopt/io/safetensors_writer.hpp"
#include "prefopt/model/gpt2_config.hpp"
#include "prefopt/model/parameter_table.hpp"

namespace prefopt {

/// Tokenizer files save_hf_checkpoint() copies when they exist (GPT2TokenizerFast.save_pretrained's set).
inline const std::vector<std::string>& hf_tokenizer_files() {
  static const std::vector<std::string> files = {"vocab.json", "merges.txt", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json"};
  return files;
}

/// The state-dict name of a table entry without the "transformer." prefix. HF names the
/// embeddings "wte.weight" / "wpe.weight"; the table may call them "wte" / "wpe".
inline std::string hf_tensor_name(const ParameterEntry& entry) {
  const auto ends_with = [&](const std::string& suffix) {
    return entry.name.size() >= suffix.size() &&
           entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".weight") || ends_with(".bias") ? entry.name : entry.name + ".weight";
}

namespace io_detail {

inline bool is_existing_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

inline void require_directory(const std::filesystem::path& dir, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(dir, ec);
  if (!std::filesystem::exists(status))
    throw CheckpointError(dir.string(), std::string(what) + " does not exist");
  if (!std::filesystem::is_directory(status))
    throw CheckpointError(dir.string(), std::string(what) + " is not a directory");
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "h.<digits>.attn.bias" / "h.<digits>.attn.masked_bias": the causal-mask buffers that
// transformers < 4.31 kept in GPT-2's state_dict. They hold no learned values.
inline bool is_attention_mask_buffer(const std::string& name) {
  std::string rest;
  if (ends_with(name, ".attn.bias")) rest = name.substr(0, name.size() - 10);
  else if (ends_with(name, ".attn.masked_bias")) rest = name.substr(0, name.size() - 17);
  else return false;
  if (!starts_with(rest, "h.") || rest.size() == 2) return false;
  for (std::size_t i = 2; i < rest.size(); ++i)
    if (rest[i] < '0' || rest[i] > '9') return false;
  return true;
}

struct WeightFiles {
  std::vector<std::filesystem::path> shards;
  std::optional<std::map<std::string, std::string>> weight_map;  // tensor -> shard file name
  std::filesystem::path index;                                   // set when sharded
};

inline WeightFiles parse_safetensors_index(const std::filesystem::path& model_dir,
                                           const std::filesystem::path& index_path) {
  const std::string source = index_path.string();
  const MappedFile file(index_path);
  const char* text = reinterpret_cast<const char*>(file.data());
  const nlohmann::json root =
      parse_untrusted_json(text, text + file.size(), 16, DuplicateKeys::keep_last, source, "index");
  const auto map_it = root.is_object() ? root.find("weight_map") : root.end();
  if (map_it == root.end() || !map_it->is_object())
    throw CheckpointError(source, "index needs a \"weight_map\" object (tensor name -> shard file)");
  WeightFiles files;
  files.index = index_path;
  files.weight_map.emplace();
  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string())
      throw CheckpointError(source, "weight_map entry of \"" + io_detail::clipped(tensor) + "\" must be a file name");
    const std::string name = shard.get<std::string>();
    // Shards are plain file names inside the model directory; refuse anything that could
    // point elsewhere.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      throw CheckpointError(source, "weight_map entry of \"" + io_detail::clipped(tensor) + "\" names \"" +
                                        io_detail::clipped(name) +
                                        "\", which is not a file name inside the model directory");
    files.weight_map->emplace(tensor, name);
    shard_names.insert(name);
  }
  for (const auto& name : shard_names) files.shards.push_back(model_dir / name);
  return files;
}

inline WeightFiles find_weight_files(const std::filesystem::path& model_dir) {
  if (is_existing_file(model_dir / "model.safetensors")) return {{model_dir / "model.safetensors"}, {}, {}};
  if (is_existing_file(model_dir / "model.safetensors.index.json"))
    return parse_safetensors_index(model_dir, model_dir / "model.safetensors.index.json");
  for (const char* other : {"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5",
                            "flax_model.msgpack"})
    if (is_existing_file(model_dir / other))
      throw CheckpointError(
          model_dir.string(),
          std::string("found ") + other +
              " but no model.safetensors: prefopt reads only safetensors weights. Convert the "
              "checkpoint once with transformers: python -c \"from transformers import "
              "AutoModelForCausalLM; AutoModelForCausalLM.from_pretrained('" + model_dir.string() +
              "').save_pretrained('OUT', safe_serialization=True)\" and copy the tokenizer files "
              "into OUT beside the config.json that save_pretrained writes");
  throw CheckpointError(model_dir.string(),
                        "no model.safetensors (or model.safetensors.index.json) in the model directory");
}

}  // namespace io_detail

/// Reads model_dir/config.json. Throws CheckpointError when the directory or the file is
/// missing, or the config is not a GPT-2 prefopt can compute exactly (read_hf_config).
inline Gpt2Config load_hf_config(const std::filesystem::path& model_dir) {
  io_detail::require_directory(model_dir, "model directory");
  const std::filesystem::path config = model_dir / "config.json";
  if (!io_detail::is_existing_file(config))
    throw CheckpointError(config.string(), "config.json not found; a Hugging Face GPT-2 checkpoint is a "
                                           "directory with config.json and model.safetensors");
  return read_hf_config(config);
}

/// Fills block[0, table.total_size()) with the weights of the checkpoint in `model_dir`
/// (single-file or sharded safetensors; F32, F16, BF16 or F64 tensors; names with or without
/// "transformer."). Every tensor is validated (names, shapes, dtypes, duplicates, missing
/// ones) before the block is written. Throws CheckpointError naming the file and tensor; after
/// an lm_head.weight mismatch, the block holds the loaded weights but the load has failed.
template <class Scalar>
void load_hf_parameters(const std::filesystem::path& model_dir, const ParameterTable& table, Scalar* block) {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "prefopt::load_hf_parameters: Scalar must be float or double");
  PREFOPT_CHECK(block != nullptr, "load_hf_parameters: block is null");
  io_detail::require_directory(model_dir, "model directory");
  const io_detail::WeightFiles files = io_detail::find_weight_files(model_dir);

  std::map<std::string, std::size_t> entry_by_name;  // HF name without "transformer." -> entry
  for (std::size_t i = 0; i < table.entries().size(); ++i)
    entry_by_name.emplace(hf_tensor_name(table.entries()[i]), i);

  struct Source {
    const SafetensorsFile* file;
    const SafetensorsTensor* tensor;
  };
  std::vector<SafetensorsFile> shards;
  shards.reserve(files.shards.size());
  for (const auto& path : files.shards) shards.emplace_back(path);

  std::vector<std::optional<Source>> sources(table.entries().size());
  std::optional<Source> lm_head;
  const Gpt2Config& config = table.config();
  for (const SafetensorsFile& shard : shards) {
    const std::string source = shard.path().string();
    for (const SafetensorsTensor& t : shard.tensors()) {
      if (files.weight_map) {
        const auto it = files.weight_map->find(t.name);
        const std::string shard_name = shard.path().filename().string();
        if (it == files.weight_map->end() || it->second != shard_name)
          throw CheckpointError(source, "tensor \"" + t.name + "\" is in " + shard_name + " but " +
                                            files.index.filename().string() +
                                            (it == files.weight_map->end() ? " does not list it"
                                                                           : " maps it to " + it->second));
      }
      const std::string name = io_detail::starts_with(t.name, "transformer.") ? t.name.substr(12) : t.name;
      const auto entry_it = entry_by_name.find(name);
      if (entry_it != entry_by_name.end()) {
        const ParameterEntry& e = table.entries()[entry_it->second];
        auto& slot = sources[entry_it->second];
        if (slot)
          throw CheckpointError(source, "tensor \"" + name + "\" appears twice (as \"" +
                                            slot->tensor->name + "\" in " +
                                            slot->file->path().filename().string() + " and as \"" +
                                            t.name + "\")");
        if (t.shape != e.shape)
          throw CheckpointError(source, "tensor \"" + t.name + "\": expected shape " + shape_string(e.shape) +
                                            ", found " + shape_string(t.shape));
        if (!is_readable_float(t.dtype))
          throw CheckpointError(source, "tensor \"" + t.name + "\" has dtype " +
                                            std::string(dtype_name(t.dtype)) +
                                            "; prefopt reads only F32, F16, BF16 and F64 tensors");
        slot = Source{&shard, &t};
      } else if (t.name == "lm_head.weight") {
        const std::vector<index_t> expected = {config.vocab_size, config.n_embd};
        if (t.shape != expected)
          throw CheckpointError(source, "tensor \"lm_head.weight\": expected shape " + shape_string(expected) +
                                            ", found " + shape_string(t.shape));
        if (!is_readable_float(t.dtype))
          throw CheckpointError(source, "tensor \"lm_head.weight\" has dtype " + std::string(dtype_name(t.dtype)) +
                                            "; prefopt reads only F32, F16, BF16 and F64 tensors");
        if (lm_head) throw CheckpointError(source, "tensor \"lm_head.weight\" appears twice");
        lm_head = Source{&shard, &t};
      } else if (!io_detail::is_attention_mask_buffer(name)) {
        throw CheckpointError(source, "unexpected tensor \"" + t.name + "\": a GPT-2 with n_layer=" +
                                          std::to_string(config.n_layer) + " has no such parameter");
      }
    }
  }

  std::string missing;
  std::size_t n_missing = 0;
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (!sources[i] && ++n_missing <= 5)
      missing += (missing.empty() ? "\"" : ", \"") + hf_tensor_name(table.entries()[i]) + "\"";
  if (n_missing > 0)
    throw CheckpointError(model_dir.string(),
                          "missing tensor" + std::string(n_missing > 1 ? "s " : " ") + missing +
                              (n_missing > 5 ? " and " + std::to_string(n_missing - 5) + " more" : "") +
                              " (names may carry the \"transformer.\" prefix)");

  for (std::size_t i = 0; i < sources.size(); ++i) {
    const ParameterEntry& e = table.entries()[i];
    sources[i]->file->read(*sources[i]->tensor, block + e.offset);
  }

  if (lm_head) {
    // GPT-2 ties the output projection to wte; prefopt has no separate lm_head, so an untied
    // checkpoint can only be loaded when the two are identical.
    const ParameterEntry& wte = table.global(GlobalTensor::wte);
    constexpr index_t chunk = 1 << 16;
    std::vector<Scalar> buffer(static_cast<std::size_t>(std::min<index_t>(chunk, wte.size)));
    for (index_t first = 0; first < wte.size; first += chunk) {
      const index_t n = std::min<index_t>(chunk, wte.size - first);
      convert_tensor(*lm_head->tensor, lm_head->file->bytes(*lm_head->tensor), first, n, buffer.data(),
                     lm_head->file->path().string());
      if (std::memcmp(buffer.data(), block + wte.offset + first, sizeof(Scalar) * static_cast<std::size_t>(n)) != 0)
        throw CheckpointError(lm_head->file->path().string(),
                              "tensor \"lm_head.weight\" differs from wte.weight; prefopt's GPT-2 ties the "
                              "output projection to the token embedding and cannot load an untied model");
    }
  }
}

/// Writes a Hugging Face checkpoint of the parameters in block[0, table.total_size()) to
/// `out_dir` (created if needed): model.safetensors (F32, "transformer."-prefixed names in table
/// order, no lm_head since it is tied), then the tokenizer files found in `tokenizer_dir` (when
/// given), then config.json last, each replaced atomically, so a directory whose config.json is
/// new has complete weights. Throws CheckpointError on I/O failure or when `tokenizer_dir` holds
/// none of hf_tokenizer_files().
template <class Scalar>
void save_hf_checkpoint(const std::filesystem::path& out_dir, const ParameterTable& table, const Scalar* block,
                        const std::filesystem::path& tokenizer_dir = {}) {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "prefopt::save_hf_checkpoint: Scalar must be float or double");
  PREFOPT_CHECK(block != nullptr, "save_hf_checkpoint: block is null");
  std::vector<std::filesystem::path> tokenizer_sources;
  if (!tokenizer_dir.empty()) {
    io_detail::require_directory(tokenizer_dir, "tokenizer directory");
    for (const auto& name : hf_tokenizer_files())
      if (io_detail::is_existing_file(tokenizer_dir / name)) tokenizer_sources.push_back(tokenizer_dir / name);
    if (tokenizer_sources.empty())
      throw CheckpointError(tokenizer_dir.string(),
                            "no tokenizer files (vocab.json, merges.txt, tokenizer.json, ...) in the tokenizer directory");
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw CheckpointError(out_dir.string(), "cannot create the output directory: " + ec.message());
  io_detail::require_directory(out_dir, "output directory");

  std::vector<NamedTensor<Scalar>> tensors;
  tensors.reserve(table.entries().size());
  for (const ParameterEntry& e : table.entries())
    tensors.push_back({"transformer." + hf_tensor_name(e), e.shape, block + e.offset});
  save_safetensors_f32(out_dir / "model.safetensors", tensors, pytorch_safetensors_metadata());
  for (const auto& source : tokenizer_sources) copy_file_atomically(source, out_dir / source.filename());
  write_hf_config(out_dir / "config.json", table.config());
}

}  // namespace prefopt
