// SPDX-License-Identifier: MIT
// Exceptions thrown at prefopt's public entry points. User input is never checked by assert,
// and library code never exits the process.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace prefopt {

/// Base of every exception prefopt throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A function was called with arguments that violate its contract (shapes, ranges).
class ArgumentError : public Error {
 public:
  using Error::Error;
};

/// A model checkpoint (config.json, safetensors) is missing, malformed or inconsistent.
/// The message names the path and, where it applies, the tensor and what was expected.
class CheckpointError : public Error {
 public:
  CheckpointError(const std::string& path, const std::string& what)
      : Error(path + ": " + what), path_(path) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// A data file is malformed. The message names the file and the line (1-based).
class DataError : public Error {
 public:
  DataError(const std::string& file, long line, const std::string& what)
      : Error(file + ":" + std::to_string(line) + ": " + what), file_(file), line_(line) {}
  const std::string& file() const noexcept { return file_; }
  long line() const noexcept { return line_; }

 private:
  std::string file_;
  long line_;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail
}  // namespace prefopt

/// Throws prefopt::ArgumentError naming the failed condition when `cond` is false.
/// The message parts are streamed: PREFOPT_CHECK(n > 0, "n must be positive, got ", n).
#define PREFOPT_CHECK(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::prefopt::ArgumentError(::prefopt::detail::concat(__VA_ARGS__, " [", #cond, \
                                                               "]"));                   \
  } while (0)
