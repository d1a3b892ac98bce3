// SPDX-License-Identifier: MIT
// Hugging Face config.json <-> Gpt2Config for GPT-2 (transformers' GPT2Config,
// src/transformers/models/gpt2/configuration_gpt2.py).
//
// Reading refuses any setting under which prefopt's GPT-2 would compute something other than
// GPT2LMHeadModel does (another model_type or activation, unscaled or layer-scaled attention,
// reordered/upcast attention, cross-attention), rather than loading a model that silently differs.
// Writing reproduces what `GPT2Config.save_pretrained` writes for a float32 model:
// `json.dumps(config, indent=2, sort_keys=True) + "\n"` (PretrainedConfig.to_json_string).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/core/types.hpp"
#include "prefopt/io/atomic_file.hpp"
#include "prefopt/io/json_guard.hpp"
#include "prefopt/io/mapped_file.hpp"
#include "prefopt/model/gpt2_config.hpp"

namespace prefopt {

/// The transformers release whose GPT2Config layout write_hf_config() follows; it is recorded in
/// the file's "transformers_version" as transformers itself records the writing version.
inline constexpr const char* hf_transformers_version = "4.46.3";

/// The largest parameter count a config.json may describe (2^48): far above any model that fits in
/// memory, low enough that every size and offset fits in int64.
inline constexpr double max_hf_parameters = 281474976710656.0;

namespace io_detail {

// A value as error messages show it: scalars as JSON (cut at 60 characters), structures by type,
// so a hostile value cannot make the message huge or the printer recurse deeply.
inline std::string json_brief(const nlohmann::json& v) {
  if (v.is_structured()) return std::string("an ") + v.type_name();
  std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

class HfConfigReader {
 public:
  HfConfigReader(const nlohmann::json& root, const std::string& source) : root_(root), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const { throw CheckpointError(source_, what); }

  const nlohmann::json* find(const char* key) const {
    const auto it = root_.find(key);
    return it == root_.end() ? nullptr : &*it;
  }

  std::int64_t integer(const char* key, std::int64_t min, std::int64_t max) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) fail(std::string("config.json lacks \"") + key + "\"");
    return integer_value(key, *v, min, max);
  }
  std::int64_t integer_or(const char* key, std::int64_t fallback, std::int64_t min, std::int64_t max) const {
    const nlohmann::json* v = find(key);
    return v == nullptr ? fallback : integer_value(key, *v, min, max);
  }
  std::int64_t integer_value(const char* key, const nlohmann::json& v, std::int64_t min, std::int64_t max) const {
    if (!v.is_number_integer())
      fail(std::string("\"") + key + "\" must be an integer, found " + json_brief(v));
    const bool too_big = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    if (too_big || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max)
      fail(std::string("\"") + key + "\" = " + json_brief(v) + " is out of range [" + std::to_string(min) +
           ", " + std::to_string(max) + "]");
    return v.get<std::int64_t>();
  }
  double number_or(const char* key, double fallback) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) fail(std::string("\"") + key + "\" must be a number, found " + json_brief(*v));
    return v->get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(std::string("\"") + key + "\" must be true or false, found " + json_brief(*v));
    return v->get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    const nlohmann::json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) fail(std::string("\"") + key + "\" must be a string, found " + json_brief(*v));
    return v->get<std::string>();
  }

 private:
  const nlohmann::json& root_;
  const std::string& source_;
};

}  // namespace io_detail

/// Gpt2Config from the parsed contents of a GPT-2 config.json; `source` names it in errors.
/// The shape fields (n_layer, n_head, n_embd, vocab_size, n_positions or its old name n_ctx) are
/// required; the others take GPT2Config's defaults when absent, as transformers does.
/// Throws CheckpointError for anything prefopt cannot compute exactly (see the file comment).
inline Gpt2Config gpt2_config_from_hf(const nlohmann::json& root, const std::string& source) {
  if (!root.is_object()) throw CheckpointError(source, "config.json must be a JSON object");
  const io_detail::HfConfigReader in(root, source);
  // Each size fits in 31 bits, so the parameter count below can be bounded without overflow and
  // the table's int64 offsets never wrap; real GPT-2 sizes are far smaller.
  constexpr std::int64_t index_max = std::numeric_limits<std::int32_t>::max();
  constexpr std::int64_t token_max = std::numeric_limits<token_t>::max();

  const nlohmann::json* model_type = in.find("model_type");
  if (model_type == nullptr || !model_type->is_string() || model_type->get<std::string>() != "gpt2")
    in.fail("model_type is " + (model_type ? io_detail::json_brief(*model_type) : std::string("missing")) +
            "; prefopt loads only GPT-2 checkpoints (model_type \"gpt2\")");
  // Both names are the tanh approximation of GELU (Hendrycks & Gimpel 2016, eq. 2) that
  // GPT-2 was trained with; "gelu" (erf) and the others would change every activation.
  const std::string activation = in.string_or("activation_function", "gelu_new");
  if (activation != "gelu_new" && activation != "gelu_pytorch_tanh")
    in.fail("activation_function \"" + activation +
            "\" is not supported; prefopt computes GPT-2's tanh GELU (\"gelu_new\" or \"gelu_pytorch_tanh\")");
  if (!in.boolean_or("scale_attn_weights", true))
    in.fail("scale_attn_weights is false; prefopt always scales attention scores by 1/sqrt(head_dim)");
  if (in.boolean_or("scale_attn_by_inverse_layer_idx", false))
    in.fail("scale_attn_by_inverse_layer_idx is true; prefopt does not scale attention by layer index");
  if (in.boolean_or("reorder_and_upcast_attn", false))
    in.fail("reorder_and_upcast_attn is true; prefopt does not implement the reordered attention");
  if (in.boolean_or("add_cross_attention", false))
    in.fail("add_cross_attention is true; prefopt's GPT-2 is decoder-only without cross-attention");

  Gpt2Config c;
  c.n_layer = in.integer("n_layer", 1, index_max);
  c.n_head = in.integer("n_head", 1, index_max);
  c.n_embd = in.integer("n_embd", 1, index_max);
  c.vocab_size = in.integer("vocab_size", 1, index_max);
  // n_ctx is the name older configs use; current transformers reads only n_positions.
  c.n_positions = in.find("n_positions") != nullptr ? in.integer("n_positions", 1, index_max)
                                                   : in.integer("n_ctx", 1, index_max);
  // HF takes n_inner = None as 4 * n_embd; an explicit 0 would be an MLP of width 0.
  const nlohmann::json* n_inner = in.find("n_inner");
  c.n_inner = (n_inner == nullptr || n_inner->is_null()) ? 0 : in.integer("n_inner", 1, index_max);
  c.layer_norm_epsilon = in.number_or("layer_norm_epsilon", 1e-5);
  c.initializer_range = in.number_or("initializer_range", 0.02);
  c.bos_token_id = static_cast<token_t>(in.integer_or("bos_token_id", 50256, 0, token_max));
  c.eos_token_id = static_cast<token_t>(in.integer_or("eos_token_id", 50256, 0, token_max));
  // ParameterTable's sizes in double (exact enough for a bound; every term is below 2^94).
  const double C = static_cast<double>(c.n_embd), F = static_cast<double>(c.mlp_width());
  const double parameters = (static_cast<double>(c.vocab_size) + static_cast<double>(c.n_positions) + 2) * C +
                            static_cast<double>(c.n_layer) * (4 * C * C + 2 * C * F + 9 * C + F);
  if (parameters > max_hf_parameters)
    in.fail("the configuration describes a model of about " + std::to_string(parameters) +
            " parameters, more than prefopt's limit of 2^48");
  // Generation stops on eos_token_id and the tokenizer emits it, so it must be a row of wte.
  for (const auto& [key, id] : {std::pair<const char*, token_t>{"bos_token_id", c.bos_token_id},
                                std::pair<const char*, token_t>{"eos_token_id", c.eos_token_id}})
    if (id >= c.vocab_size)
      in.fail(std::string(key) + " = " + std::to_string(id) + " lies outside the vocabulary (vocab_size " +
              std::to_string(c.vocab_size) + ")");
  try {
    c.validate();
  } catch (const ArgumentError& e) {
    throw CheckpointError(source, e.what());
  }
  return c;
}

/// Parses the text of a config.json (untrusted: any bytes give a Gpt2Config or a CheckpointError
/// naming `source`).
inline Gpt2Config parse_hf_config(std::string_view text, const std::string& source) {
  // Real configs nest 3-4 levels (task_specific_params). Repeated keys keep the last value, as
  // Python's json module does when transformers reads the file.
  const nlohmann::json root = parse_untrusted_json(text.data(), text.data() + text.size(), 64,
                                                   DuplicateKeys::keep_last, source, "config.json");
  return gpt2_config_from_hf(root, source);
}

/// Reads and validates `config_json` (a path to config.json). Throws CheckpointError naming it.
inline Gpt2Config read_hf_config(const std::filesystem::path& config_json) {
  const MappedFile file(config_json);
  return parse_hf_config(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()),
                         config_json.string());
}

/// The JSON object transformers' GPT2Config.save_pretrained writes for `config` (float32
/// weights). nlohmann::json keeps keys sorted, as sort_keys=True does.
inline nlohmann::json gpt2_config_to_hf(const Gpt2Config& config) {
  config.validate();
  nlohmann::json j;
  j["activation_function"] = "gelu_new";
  j["architectures"] = {"GPT2LMHeadModel"};
  // Dropout probabilities are GPT2Config's defaults; prefopt trains with dropout off, but a
  // checkpoint fine-tuned further with transformers should behave as a stock GPT-2 would.
  j["attn_pdrop"] = 0.1;
  j["embd_pdrop"] = 0.1;
  j["resid_pdrop"] = 0.1;
  j["summary_first_dropout"] = 0.1;
  j["bos_token_id"] = config.bos_token_id;
  j["eos_token_id"] = config.eos_token_id;
  j["initializer_range"] = config.initializer_range;
  j["layer_norm_epsilon"] = config.layer_norm_epsilon;
  j["model_type"] = "gpt2";
  j["n_ctx"] = config.n_positions;
  j["n_embd"] = config.n_embd;
  j["n_head"] = config.n_head;
  j["n_inner"] = config.n_inner > 0 ? nlohmann::json(config.n_inner) : nlohmann::json(nullptr);
  j["n_layer"] = config.n_layer;
  j["n_positions"] = config.n_positions;
  j["reorder_and_upcast_attn"] = false;
  j["scale_attn_by_inverse_layer_idx"] = false;
  j["scale_attn_weights"] = true;
  j["summary_activation"] = nullptr;
  j["summary_proj_to_labels"] = true;
  j["summary_type"] = "cls_index";
  j["summary_use_proj"] = true;
  j["torch_dtype"] = "float32";
  j["transformers_version"] = hf_transformers_version;
  j["use_cache"] = true;
  j["vocab_size"] = config.vocab_size;
  return j;
}

/// config.json text: 2-space indent, sorted keys, trailing newline (PretrainedConfig.to_json_string).
inline std::string hf_config_text(const Gpt2Config& config) { return gpt2_config_to_hf(config).dump(2) + "\n"; }

/// Writes `config` to `config_json` atomically.
inline void write_hf_config(const std::filesystem::path& config_json, const Gpt2Config& config) {
  write_file_atomically(config_json, hf_config_text(config));
}

}  // namespace prefopt
