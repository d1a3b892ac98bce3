// SPDX-License-Identifier: MIT
// Helpers of the data tests: scratch folders under the build tree, small files written by the
// tests themselves, gzip compression, and a fake tokenizer whose ids are easy to count by hand.
#pragma once

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "prefopt/core/types.hpp"

namespace data_test {

namespace fs = std::filesystem;

/// An empty scratch folder <build>/data_test_tmp/<name>, emptied first.
inline fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(PREFOPT_BINARY_DIR) / "data_test_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline std::string write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path.string();
}

/// One gzip member holding `bytes` (deflateInit2 with 16 + MAX_WBITS).
inline std::string gzip(std::string_view bytes, int level = 6) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

/// Ids: "<|endoftext|>" in the text is one token (eos_id), as GPT-2's tokenizer reads it; every
/// other byte b is the token 1000 + b. So a text's token count is its byte count, with each
/// "<|endoftext|>" counting one.
struct FakeTokenizer {
  static constexpr prefopt::token_t eos_id = 7;
  void encode(std::string_view text, std::vector<prefopt::token_t>& out) const {
    static constexpr std::string_view eos_text = "<|endoftext|>";
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, eos_text.size(), eos_text) == 0) {
        out.push_back(eos_id);
        i += eos_text.size();
      } else {
        out.push_back(1000 + static_cast<unsigned char>(text[i]));
        ++i;
      }
    }
  }
  prefopt::token_t eos_token_id() const { return eos_id; }
};

/// The ids FakeTokenizer gives `text`.
inline std::vector<prefopt::token_t> fake_ids(std::string_view text) {
  std::vector<prefopt::token_t> ids;
  FakeTokenizer{}.encode(text, ids);
  return ids;
}

}  // namespace data_test
