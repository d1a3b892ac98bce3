// SPDX-License-Identifier: MIT
// MappedFile: a read-only, private memory map of a whole file (POSIX open/fstat/mmap), so a
// checkpoint is read by copying straight from the page cache instead of through a second buffer.
// The pages stay valid until the MappedFile is destroyed; a file truncated by another process
// while it is mapped makes reads past the new end raise SIGBUS (mmap(2)), as with any mmap reader.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "prefopt/core/error.hpp"

namespace prefopt {

class MappedFile {
 public:
  MappedFile() = default;

  /// Maps `path` read-only. Throws CheckpointError naming the path when it is missing, is not a
  /// regular file, or cannot be opened or mapped. An empty file maps to data() == nullptr, size() 0.
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    const std::string name = path.string();
    int fd;
    do {
      fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      const int err = errno;
      throw CheckpointError(name, err == ENOENT ? std::string("file not found")
                                                : "cannot open for reading: " + errno_text(err));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw CheckpointError(name, "cannot stat: " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw CheckpointError(name, S_ISDIR(st.st_mode) ? "is a directory, expected a file"
                                                      : "is not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw CheckpointError(name, "cannot mmap " + std::to_string(size_) +
                                        " bytes: " + errno_text(err));
      }
      data_ = static_cast<const std::byte*>(p);
    }
    // The mapping keeps its own reference to the file; the descriptor is no longer needed.
    ::close(fd);
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept { swap(other); }
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      MappedFile dying(std::move(*this));
      swap(other);
    }
    return *this;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  static std::string errno_text(int err) { return std::strerror(err); }

  void swap(MappedFile& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(path_, other.path_);
  }

  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace prefopt
