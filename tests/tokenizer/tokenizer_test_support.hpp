// SPDX-License-Identifier: MIT
// Helpers of the tokenizer tests: where GPT-2's files and the golden fixtures are, the GPT-2
// tokenizer loaded once, scratch directories, hex, and a gzip'd JSONL line reader (zlib directly).
#pragma once

#include <zlib.h>

#include <catch2/catch.hpp>

#include <cstddef>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/tokenizer/gpt2_bpe.hpp"

namespace prefopt::test {

inline std::filesystem::path gpt2_tokenizer_dir() { return PREFOPT_GPT2_TOKENIZER_DIR; }
inline std::filesystem::path tokenizer_golden_dir() { return PREFOPT_TOKENIZER_GOLDEN_DIR; }

/// GPT-2's tokenizer from data/gpt2 (scripts/setup.sh puts the files there), loaded once.
inline const Gpt2Tokenizer& gpt2_tokenizer() {
  static const Gpt2Tokenizer tokenizer = [] {
    if (!std::filesystem::exists(gpt2_tokenizer_dir() / "vocab.json"))
      throw std::runtime_error(gpt2_tokenizer_dir().string() + "/vocab.json is missing: run scripts/setup.sh");
    return Gpt2Tokenizer::from_vocab_and_merges(gpt2_tokenizer_dir() / "vocab.json",
                                                gpt2_tokenizer_dir() / "merges.txt");
  }();
  return tokenizer;
}

/// A fresh, empty directory <build>/tests-tmp/tokenizer/<name>; never inside the source tree.
inline std::filesystem::path tokenizer_scratch_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(PREFOPT_BINARY_DIR) / "tests-tmp" / "tokenizer" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex string");
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex digit");
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  return out;
}

/// The lines of a gzip'd text file, without their '\n'. TODO(#3): use the data layer's gzip reader.
inline std::vector<std::string> read_gz_lines(const std::filesystem::path& path) {
  gzFile f = gzopen(path.string().c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path.string());
  std::vector<std::string> lines;
  std::string line;
  char buffer[1 << 16];
  while (gzgets(f, buffer, sizeof buffer) != nullptr) {
    line.append(buffer);
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      lines.push_back(std::move(line));
      line.clear();
    }
  }
  int err = 0;
  const char* message = gzerror(f, &err);
  const std::string error = err != Z_OK && err != Z_STREAM_END ? message : "";
  gzclose(f);
  if (!error.empty()) throw std::runtime_error(path.string() + ": " + error);
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

/// Matches an exception whose what() contains every one of `parts`; use with CHECK_THROWS_MATCHES,
/// which also checks the exception's type.
class WhatContains : public Catch::MatcherBase<std::exception> {
 public:
  WhatContains(std::initializer_list<std::string> parts) : parts_(parts) {}
  bool match(const std::exception& e) const override {
    const std::string what = e.what();
    for (const std::string& p : parts_)
      if (what.find(p) == std::string::npos) return false;
    return true;
  }
  std::string describe() const override {
    std::string d = "has a message containing";
    for (const std::string& p : parts_) d += " \"" + p + "\"";
    return d;
  }

 private:
  std::vector<std::string> parts_;
};

/// One case of tests/reference/tokenizer/stress_golden.json.
struct StressCase {
  std::string name;
  std::string bytes;  // the input, possibly ill-formed UTF-8
  std::vector<token_t> ids;
};

inline std::vector<StressCase> stress_cases() {
  const auto path = tokenizer_golden_dir() / "stress_golden.json";
  const nlohmann::json j = nlohmann::json::parse(read_file(path));
  std::vector<StressCase> cases;
  for (const auto& c : j.at("cases"))
    cases.push_back({c.at("name").get<std::string>(), from_hex(c.at("hex").get<std::string>()),
                     c.at("ids").get<std::vector<token_t>>()});
  return cases;
}

}  // namespace prefopt::test
