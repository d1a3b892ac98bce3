// SPDX-License-Identifier: MIT
// Training checkpoints on disk: output_dir/checkpoint-<step>/ holds a Hugging Face model
// (config.json, model.safetensors, tokenizer files), optimizer.safetensors (AdamW's moments, F32)
// and trainer_state.json (step, data order, metric sums, schedule, the run's shape). A checkpoint
// is written into a hidden sibling directory and renamed into place, so a process killed at any
// moment leaves either the complete checkpoint or none: a directory named checkpoint-<step> is
// always whole. Removing one (rotation, or replacing a checkpoint of the same step) first renames
// it to a hidden name, so a kill in the middle of the deletion cannot leave a torn checkpoint-<step>
// either. Hidden directories left by a kill are removed by the next save.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/io/atomic_file.hpp"

namespace prefopt {

inline constexpr const char* trainer_state_file = "trainer_state.json";
inline constexpr const char* optimizer_state_file = "optimizer.safetensors";

/// The step of a directory named checkpoint-<step>, or nothing.
inline std::optional<std::int64_t> checkpoint_step(const std::filesystem::path& dir) {
  const std::string name = dir.filename().string();
  const std::string prefix = "checkpoint-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::int64_t step = 0;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || step > (INT64_MAX - 9) / 10) return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

/// Complete checkpoints under `output_dir` (those with a trainer_state.json), by step.
inline std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& output_dir) {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> found;
  std::error_code ec;
  if (!std::filesystem::is_directory(output_dir, ec)) return {};
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, ec)) {
    const auto step = checkpoint_step(entry.path());
    if (step && std::filesystem::is_regular_file(entry.path() / trainer_state_file, ec))
      found.emplace_back(*step, entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

/// What `--resume` names: a checkpoint directory itself, or a run's output directory (then its
/// latest checkpoint). Throws CheckpointError when there is none.
inline std::filesystem::path resolve_resume_checkpoint(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path / trainer_state_file, ec)) return path;
  const auto all = list_checkpoints(path);
  if (all.empty())
    throw CheckpointError(path.string(), "nothing to resume from: not a checkpoint directory (no " +
                                             std::string(trainer_state_file) + ") and no checkpoint-<step> in it");
  return all.back();
}

namespace checkpoint_detail {
inline constexpr const char* partial_prefix = ".partial-checkpoint-";
inline constexpr const char* removing_prefix = ".removing-";

/// Deletes a checkpoint directory without ever showing a torn one under its name: an atomic
/// rename to a hidden sibling, then the (interruptible) recursive delete of that.
inline void remove_checkpoint_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return;
  const std::filesystem::path doomed = dir.parent_path() / (removing_prefix + dir.filename().string());
  std::filesystem::remove_all(doomed, ec);
  std::filesystem::rename(dir, doomed, ec);
  if (ec) throw CheckpointError(dir.string(), "cannot move the checkpoint aside to delete it: " + ec.message());
  io_detail::fsync_directory(dir.parent_path());
  std::filesystem::remove_all(doomed, ec);
}
}  // namespace checkpoint_detail

/// Writes a checkpoint: `write(dir)` fills a fresh temporary directory, which is then renamed to
/// output_dir/checkpoint-<step> (replacing an older one of that step). Returns the final path.
template <class WriteFn>
std::filesystem::path write_checkpoint_directory(const std::filesystem::path& output_dir, std::int64_t step,
                                                 WriteFn&& write) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) throw CheckpointError(output_dir.string(), "cannot create the output directory: " + ec.message());
  // Remove what earlier killed saves and deletions left behind (hidden names only).
  std::vector<fs::path> leftovers;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(checkpoint_detail::partial_prefix, 0) == 0 ||
        name.rfind(std::string(checkpoint_detail::removing_prefix) + "checkpoint-", 0) == 0)
      leftovers.push_back(entry.path());
  }
  for (const auto& p : leftovers) fs::remove_all(p, ec);
  const fs::path final_dir = output_dir / ("checkpoint-" + std::to_string(step));
  const fs::path temp_dir = output_dir / (checkpoint_detail::partial_prefix + std::to_string(step));
  fs::remove_all(temp_dir, ec);
  fs::create_directory(temp_dir, ec);
  if (ec) throw CheckpointError(temp_dir.string(), "cannot create: " + ec.message());
  write(temp_dir);
  io_detail::fsync_directory(temp_dir);
  checkpoint_detail::remove_checkpoint_directory(final_dir);  // an older save of this step
  fs::rename(temp_dir, final_dir, ec);
  if (ec) throw CheckpointError(final_dir.string(), "cannot rename the finished checkpoint into place: " + ec.message());
  io_detail::fsync_directory(output_dir);
  return final_dir;
}

/// Keeps the newest `keep` complete checkpoints (0 keeps all).
inline void rotate_checkpoints(const std::filesystem::path& output_dir, std::size_t keep) {
  if (keep == 0) return;
  auto all = list_checkpoints(output_dir);
  for (std::size_t i = 0; i + keep < all.size(); ++i) checkpoint_detail::remove_checkpoint_directory(all[i]);
}

inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path.string(), "cannot open for reading");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(path.string(), std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace prefopt
