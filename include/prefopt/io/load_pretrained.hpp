// SPDX-License-Identifier: MIT
// load_pretrained<Model>(dir): a model built from a Hugging Face GPT-2 directory (config.json +
// model.safetensors) on any device — the C++ side of `GPT2LMHeadModel.from_pretrained(dir)`. The
// weights go through the host once (read, then set_parameters, which copies them to the device).
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "prefopt/io/hf_checkpoint.hpp"
#include "prefopt/model/gpt2.hpp"

namespace prefopt {

template <class Model>
std::unique_ptr<Model> load_pretrained(const std::filesystem::path& dir, GradientMemory gradients = GradientMemory::allocate,
                                       typename Model::device_type device = {}) {
  auto model = std::make_unique<Model>(load_hf_config(dir), device, gradients);
  std::vector<typename Model::scalar_type> host(static_cast<std::size_t>(model->num_parameters()));
  load_hf_parameters(dir, model->parameter_table(), host.data());
  model->set_parameters(host.data());
  return model;
}

}  // namespace prefopt
