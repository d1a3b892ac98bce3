// SPDX-License-Identifier: MIT
// ByteSource: where the data readers get their bytes — a file, a block of memory (tests, fuzzers),
// or a decompressing wrapper around another source (gzip_stream.hpp). The line and record layers
// above never know which.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "prefopt/core/error.hpp"

namespace prefopt {

/// A byte source failed (I/O error, corrupt or truncated compressed stream). The message names
/// the source but not a line: the line reader, which knows the line reached, turns it into a
/// DataError(file, line, ...).
class StreamError : public Error {
 public:
  StreamError(const std::string& source, const std::string& detail)
      : Error(source + ": " + detail), source_(source), detail_(detail) {}
  const std::string& source() const noexcept { return source_; }
  /// The message without the source's name.
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string source_;
  std::string detail_;
};

/// A sequential stream of bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to `n` bytes into `out` and returns how many were read: 0 only at the end of the
  /// input (a source may return fewer than `n` bytes before that). Throws StreamError on failure.
  virtual std::size_t read(char* out, std::size_t n) = 0;
  /// The name used in messages (usually the path).
  virtual const std::string& name() const noexcept = 0;
};

/// Reads a file through stdio. Throws StreamError when the file cannot be opened or read.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) {
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec))
      throw StreamError(path_, "is a directory, not a data file");
    file_ = std::fopen(path_.c_str(), "rb");
    if (file_ == nullptr) throw StreamError(path_, std::string("cannot open: ") + std::strerror(errno));
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ~FileSource() override {
    if (file_ != nullptr) std::fclose(file_);
  }

  std::size_t read(char* out, std::size_t n) override {
    const std::size_t got = std::fread(out, 1, n, file_);
    if (got < n && std::ferror(file_)) throw StreamError(path_, std::string("read error: ") + std::strerror(errno));
    return got;
  }
  const std::string& name() const noexcept override { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

/// Reads a block of memory the caller keeps alive (tests, fuzzers).
class MemorySource final : public ByteSource {
 public:
  MemorySource(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  std::size_t read(char* out, std::size_t n) override {
    const std::size_t k = std::min(n, bytes_.size() - pos_);
    if (k > 0) std::memcpy(out, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  const std::string& name() const noexcept override { return name_; }

 private:
  std::string_view bytes_;
  std::string name_;
  std::size_t pos_ = 0;
};

/// Replays bytes already taken from `rest` (a format probe's look-ahead), then continues with `rest`.
class PrefixedSource final : public ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> rest)
      : prefix_(std::move(prefix)), rest_(std::move(rest)) {}
  std::size_t read(char* out, std::size_t n) override {
    if (pos_ < prefix_.size()) {
      const std::size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(out, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return rest_->read(out, n);
  }
  const std::string& name() const noexcept override { return rest_->name(); }

 private:
  std::string prefix_;
  std::size_t pos_ = 0;
  std::unique_ptr<ByteSource> rest_;
};

}  // namespace prefopt
