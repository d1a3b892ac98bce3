// SPDX-License-Identifier: MIT
// Crash-safe file replacement: a reader of `target` sees either the old file or the complete new
// one, never a torn write. The classic POSIX recipe (see rename(2) and fsync(2)):
//   1. write a temporary file in the target's directory (rename is only atomic within a file system),
//   2. fsync it, so its data is on disk before the name points at it,
//   3. rename() it over the target,
//   4. fsync the directory, so the rename itself survives a power loss.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "prefopt/core/error.hpp"
#include "prefopt/io/mapped_file.hpp"

namespace prefopt {

/// Sequential writer handed to the callback of write_file_atomically(); throws CheckpointError
/// on a failed write (disk full, I/O error).
class FileWriter {
 public:
  FileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw CheckpointError(path_, std::string("write failed: ") + std::strerror(errno));
      }
      p += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::size_t>(n);
    }
  }
  void write(std::string_view text) { write(text.data(), text.size()); }
  std::size_t bytes_written() const noexcept { return written_; }

 private:
  int fd_;
  std::string path_;
  std::size_t written_ = 0;
};

namespace io_detail {

inline void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw CheckpointError(dir.string(), std::string("cannot open directory to fsync: ") +
                                            std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); there is nothing more to make durable.
  if (rc != 0 && err != EINVAL)
    throw CheckpointError(dir.string(), std::string("fsync of directory failed: ") + std::strerror(err));
}

// Creates a new, uniquely named file next to `target`; mode 0666 filtered by the umask, as an
// ordinary create would give (mkstemp would force 0600).
inline int create_temporary_beside(const std::filesystem::path& target, std::filesystem::path& temp) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    temp = dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                  std::to_string(counter.fetch_add(1)));
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST && errno != EINTR)
      throw CheckpointError(target.string(), "cannot create a temporary file in " + dir.string() +
                                                 ": " + std::strerror(errno));
  }
  throw CheckpointError(target.string(), "cannot find a free temporary file name in " + dir.string());
}

}  // namespace io_detail

/// Replaces `target` with the bytes `write` produces, atomically and durably (see the file comment).
/// If `write` throws, the temporary file is removed, `target` is untouched and the exception
/// propagates. The parent directory must exist. Throws CheckpointError on I/O failures.
inline void write_file_atomically(const std::filesystem::path& target,
                                  const std::function<void(FileWriter&)>& write) {
  if (target.filename().empty())
    throw CheckpointError(target.string(), "not a file path (no file name)");
  std::filesystem::path temp;
  int fd = io_detail::create_temporary_beside(target, temp);
  try {
    FileWriter writer(fd, temp.string());
    write(writer);
    if (::fsync(fd) != 0)
      throw CheckpointError(temp.string(), std::string("fsync failed: ") + std::strerror(errno));
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0)
      throw CheckpointError(temp.string(), std::string("close failed: ") + std::strerror(errno));
    if (::rename(temp.c_str(), target.c_str()) != 0)
      throw CheckpointError(target.string(), "cannot rename " + temp.string() + " over it: " +
                                                 std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  io_detail::fsync_directory(target.has_parent_path() ? target.parent_path() : ".");
}

/// Replaces `target` with `bytes`, atomically.
inline void write_file_atomically(const std::filesystem::path& target, std::string_view bytes) {
  write_file_atomically(target, [bytes](FileWriter& w) { w.write(bytes); });
}

/// Copies `source` to `target`, replacing `target` atomically. Throws CheckpointError naming
/// `source` when it cannot be read.
inline void copy_file_atomically(const std::filesystem::path& source,
                                 const std::filesystem::path& target) {
  const MappedFile in(source);
  write_file_atomically(target, [&in](FileWriter& w) { w.write(in.data(), in.size()); });
}

}  // namespace prefopt
