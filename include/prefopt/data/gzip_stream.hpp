// SPDX-License-Identifier: MIT
// GzipSource: a ByteSource that inflates a gzip stream (RFC 1952) read from another source, with
// zlib's inflate (inflateInit2 with 16 + MAX_WBITS: gzip wrapper only, CRC-32 and length checked).
// Concatenated members are one stream, as gzip(1) and Python's gzip module read them; zero bytes
// after a member are padding and ignored (Python does the same); any other trailing bytes must
// start a valid member. A stream that ends inside a member is truncated: an error, never a short
// read. decompress_if_gzip() picks plain or gzip by the magic bytes 1f 8b, not by the file name.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefopt/data/byte_source.hpp"

namespace prefopt {

class GzipSource final : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> compressed)
      : compressed_(std::move(compressed)), in_(64 * 1024) {
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK)
      throw StreamError(name(), "cannot initialise zlib's inflate");
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;
  ~GzipSource() override { inflateEnd(&zs_); }

  std::size_t read(char* out, std::size_t n) override {
    if (done_ || n == 0) return 0;
    const uInt want = static_cast<uInt>(std::min<std::size_t>(n, UINT_MAX));
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    zs_.avail_out = want;
    while (zs_.avail_out == want) {  // until some output, or the end of the last member
      if (zs_.avail_in == 0 && !input_eof_) refill();
      if (between_members_) {
        while (zs_.avail_in > 0 && *zs_.next_in == 0) {  // padding after a member
          ++zs_.next_in;
          --zs_.avail_in;
          ++consumed_;
        }
        if (zs_.avail_in == 0) {
          if (input_eof_) {
            done_ = true;
            break;
          }
          continue;
        }
        between_members_ = false;
        inflateReset(&zs_);
      }
      const uInt avail_before = zs_.avail_in;
      const int status = inflate(&zs_, Z_NO_FLUSH);
      consumed_ += avail_before - zs_.avail_in;
      switch (status) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          ++members_;
          between_members_ = true;
          break;
        case Z_BUF_ERROR:  // no progress possible: inflate needs more input
          if (zs_.avail_in == 0 && input_eof_)
            throw StreamError(name(), "gzip stream is truncated: member " + std::to_string(members_ + 1) +
                              " ends after " + std::to_string(consumed_) +
                              " compressed bytes, before its end-of-stream marker and trailer");
          break;
        case Z_MEM_ERROR:
          throw StreamError(name(), "zlib ran out of memory");
        default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
          throw StreamError(name(), "gzip data is corrupt in member " + std::to_string(members_ + 1) +
                            " near compressed byte " + std::to_string(consumed_) + ": " +
                            (zs_.msg != nullptr ? zs_.msg : "invalid data"));
      }
    }
    return want - zs_.avail_out;
  }
  const std::string& name() const noexcept override { return compressed_->name(); }
  /// Members read to their end so far.
  int members() const noexcept { return members_; }

 private:
  void refill() {
    const std::size_t got = compressed_->read(reinterpret_cast<char*>(in_.data()), in_.size());
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(got);
    if (got == 0) input_eof_ = true;
  }

  std::unique_ptr<ByteSource> compressed_;
  std::vector<unsigned char> in_;
  z_stream zs_{};
  bool input_eof_ = false;
  bool between_members_ = false;  // a member ended; the next non-zero byte starts another
  bool done_ = false;
  int members_ = 0;
  std::uint64_t consumed_ = 0;  // compressed bytes consumed, for messages
};

/// True when `bytes` start with gzip's magic number 1f 8b.
inline bool has_gzip_magic(std::string_view bytes) noexcept {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// Returns a source that yields `source`'s bytes inflated when they start with 1f 8b, as they are
/// otherwise.
inline std::unique_ptr<ByteSource> decompress_if_gzip(std::unique_ptr<ByteSource> source) {
  std::string head(2, '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    const std::size_t k = source->read(&head[got], head.size() - got);
    if (k == 0) break;
    got += k;
  }
  head.resize(got);
  const bool gzip = has_gzip_magic(head);
  auto replay = std::make_unique<PrefixedSource>(std::move(head), std::move(source));
  if (gzip) return std::make_unique<GzipSource>(std::move(replay));
  return replay;
}

/// Opens a data file, plain or gzip-compressed (by content). Throws StreamError.
inline std::unique_ptr<ByteSource> open_data_file(const std::string& path) {
  return decompress_if_gzip(std::make_unique<FileSource>(path));
}

}  // namespace prefopt
