// SPDX-License-Identifier: MIT
// hh_rlhf_files: the data files of one split of a dataset laid out like Anthropic/hh-rlhf on the
// Hugging Face hub, to be read with JsonlReader as one stream.
//   a file                      -> that file, whatever the split
//   a folder with subsets       -> <dir>/<subset>/<split>.jsonl.gz (or .jsonl), subsets in sorted
//                                  order: harmless-base, helpful-base, helpful-online,
//                                  helpful-rejection-sampled (red-team-attempts has no splits)
//   a subset folder             -> <dir>/<split>.jsonl.gz (or .jsonl)
//   a flat folder               -> <dir>/<subset>-<split>.jsonl.gz (or .jsonl), as ../shared/data has
// Subsets found in several of these forms are all read, sorted by subset name ("" for the folder
// itself); one subset holding both a .jsonl and a .jsonl.gz for the split is an error.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/core/error.hpp"

namespace prefopt {

/// Returns the files to read for `split` ("train", "test"; letters, digits, '_', '-', '.').
/// Throws DataError(path, 0, ...) when `path` does not exist or a folder holds no file of the
/// split (the message lists the layouts expected and what the folder holds).
inline std::vector<std::string> hh_rlhf_files(const std::string& path, std::string_view split) {
  namespace fs = std::filesystem;
  PREFOPT_CHECK(!split.empty() && split != "." && split != "..", "hh_rlhf_files: invalid split name \"", split,
                "\"");
  for (char c : split)
    PREFOPT_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == '.',
                  "hh_rlhf_files: invalid split name \"", split, "\"");
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw DataError(path, 0, "no such file or folder");
  if (!fs::is_directory(status)) return {path};

  const std::string s(split);
  std::vector<std::pair<std::string, std::string>> found;  // (subset, file)
  std::vector<std::string> seen;                           // for the error message
  auto add_if_file = [&](const std::string& subset, const fs::path& file) {
    std::error_code e;
    if (fs::is_regular_file(file, e)) found.emplace_back(subset, file.string());
  };
  add_if_file("", fs::path(path) / (s + ".jsonl.gz"));
  add_if_file("", fs::path(path) / (s + ".jsonl"));
  for (const fs::directory_entry& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    seen.push_back(name);
    std::error_code e;
    if (entry.is_directory(e)) {
      add_if_file(name, entry.path() / (s + ".jsonl.gz"));
      add_if_file(name, entry.path() / (s + ".jsonl"));
      continue;
    }
    for (const std::string& suffix : {"-" + s + ".jsonl.gz", "-" + s + ".jsonl"}) {
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        add_if_file(name.substr(0, name.size() - suffix.size()), entry.path());
    }
  }
  if (ec) throw DataError(path, 0, "cannot list the folder: " + ec.message());

  if (found.empty()) {
    std::sort(seen.begin(), seen.end());
    std::string listing;
    for (std::size_t i = 0; i < seen.size() && i < 12; ++i) listing += (i > 0 ? ", " : "") + seen[i];
    if (seen.size() > 12) listing += ", ... (" + std::to_string(seen.size()) + " entries)";
    throw DataError(path, 0,
                    "no data files for split \"" + s + "\": expected <subset>/" + s + ".jsonl.gz (Hugging Face "
                    "layout, e.g. harmless-base/" + s + ".jsonl.gz), " + s + ".jsonl.gz or <subset>-" + s +
                    ".jsonl.gz (.jsonl also accepted); the folder holds " + (seen.empty() ? "nothing" : listing));
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (i > 0 && found[i].first == found[i - 1].first)
      throw DataError(path, 0, "subset \"" + found[i].first + "\" has two files for split \"" + s + "\": " +
                                   found[i - 1].second + " and " + found[i].second);
    files.push_back(found[i].second);
  }
  return files;
}

}  // namespace prefopt
