// SPDX-License-Identifier: MIT
// Streaming JSON Lines reader (https://jsonlines.org): one JSON object per line, plain or
// gzip-compressed (chosen by content, see gzip_stream.hpp), one file or several read as one.
// Lines may be of any length (ReadOptions::max_line_bytes only guards memory, and exceeding it is
// an error, never a cut). "\r\n" line ends are accepted; blank lines at the end of a file are
// ignored (and counted); a blank line elsewhere is a bad record. Each line is parsed by
// nlohmann::json.
//
// Bad records (invalid UTF-8, malformed JSON, a value that is not an object, a blank line in the
// middle, a file with no records) throw DataError naming the file and line under
// BadRecords::Throw (the default). Under BadRecords::Skip they are counted per reason in
// ReadStats::skipped, with the first few file:line examples — never silently dropped.
#pragma once

#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/data/byte_source.hpp"
#include "prefopt/data/gzip_stream.hpp"
#include "prefopt/data/python_str.hpp"
#include "prefopt/data/reason_log.hpp"
#include "prefopt/data/record.hpp"

namespace prefopt {

/// Splits a byte source into lines. A line is returned without its "\n" and without one "\r"
/// before it; a last line without "\n" is still a line. Stream errors (a truncated gzip member)
/// become DataError(name, <line being read>, ...).
class LineReader {
 public:
  /// `max_line_bytes` = 0: no limit.
  explicit LineReader(std::unique_ptr<ByteSource> source, std::size_t max_line_bytes = 0)
      : source_(std::move(source)), max_line_bytes_(max_line_bytes), buffer_(64 * 1024) {}

  /// Reads the next line into `line`; false at the end of the input.
  bool next(std::string& line) {
    line.clear();
    bool any_byte = false;  // a last line without "\n" still counts when it has bytes
    for (;;) {
      if (pos_ == end_) {
        if (eof_) break;
        fill();
        if (eof_) break;
      }
      const char* start = buffer_.data() + pos_;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
      const std::size_t take = newline != nullptr ? static_cast<std::size_t>(newline - start) : end_ - pos_;
      if (max_line_bytes_ > 0 && line.size() + take > max_line_bytes_)
        throw DataError(name(), line_ + 1,
                        "line is longer than " + std::to_string(max_line_bytes_) + " bytes (ReadOptions::max_line_bytes)");
      line.append(start, take);
      pos_ += take;
      any_byte = true;
      if (newline != nullptr) {
        ++pos_;
        break;
      }
    }
    if (!any_byte) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++line_;
    return true;
  }
  /// 1-based number of the line last returned (0 before the first).
  long line_number() const noexcept { return line_; }
  const std::string& name() const noexcept { return source_->name(); }

 private:
  void fill() {
    try {
      end_ = source_->read(buffer_.data(), buffer_.size());
    } catch (const StreamError& e) {
      throw DataError(name(), line_ + 1,
                      e.detail() + " (" + std::to_string(line_) + " complete lines were read before it)");
    }
    pos_ = 0;
    if (end_ == 0) eof_ = true;
  }

  std::unique_ptr<ByteSource> source_;
  std::size_t max_line_bytes_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  long line_ = 0;
};

/// What to do with a bad record.
enum class BadRecords { Throw, Skip };

/// Why a record was skipped under BadRecords::Skip.
enum class SkipReason {
  InvalidUtf8,     // the line is not well-formed UTF-8 (JSON text must be; nlohmann rejects it)
  MalformedJson,   // nlohmann::json::parse failed
  NestedTooDeep,   // deeper than ReadOptions::max_depth
  NotAnObject,     // valid JSON, but not an object
  BlankLine,       // a blank line followed by more records
  EmptyFile,       // a file without a single record
  MissingField,    // a field the pair builder needs is absent (counted by the pair stage)
  FieldNotString,  // a field the pair builder needs is not a string (counted by the pair stage)
  BadTokenIds,     // an id field of a tokenized pair is not an array of in-vocabulary ids (pairs_file.hpp)
};

constexpr std::string_view reason_name(SkipReason reason) noexcept {
  switch (reason) {
    case SkipReason::InvalidUtf8: return "invalid UTF-8";
    case SkipReason::MalformedJson: return "malformed JSON";
    case SkipReason::NestedTooDeep: return "JSON nested too deeply";
    case SkipReason::NotAnObject: return "not a JSON object";
    case SkipReason::BlankLine: return "blank line before more records";
    case SkipReason::EmptyFile: return "file without records";
    case SkipReason::MissingField: return "missing field";
    case SkipReason::FieldNotString: return "field is not a string";
    case SkipReason::BadTokenIds: return "bad token ids";
  }
  return "unknown skip reason";
}

using SkipLog = ReasonLog<SkipReason>;

struct ReadOptions {
  BadRecords bad_records = BadRecords::Throw;
  std::size_t max_line_bytes = std::size_t{256} << 20;  // 0: no limit
  int max_depth = 64;  // open objects and arrays: {"a": [1]} has depth 2
};

struct ReadStats {
  index_t files = 0;                 // files opened (one for a source)
  index_t lines = 0;                 // lines read, blank ones included
  index_t records = 0;               // records returned
  index_t trailing_blank_lines = 0;  // blank lines at the end of a file (allowed, not records)
  SkipLog skipped;                   // bad records, under BadRecords::Skip

  void print(std::ostream& out) const {
    out << "read " << records << " records from " << lines << " lines in " << files << (files == 1 ? " file" : " files");
    if (trailing_blank_lines > 0) out << " (" << trailing_blank_lines << " trailing blank lines)";
    out << "\n";
    if (!skipped.empty()) {
      out << "skipped " << skipped.total() << " bad records:\n";
      skipped.print(out);
    }
  }
};

/// Deepest nesting of objects and arrays in `text`, counted up to `limit` + 1 (a pre-check: the
/// parser itself rejects malformed text, and nlohmann's recursive copy of a value must not see
/// unbounded depth).
inline int json_nesting_depth(std::string_view text, int limit) noexcept {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

class JsonlReader {
 public:
  /// Reads `paths` in order, as one stream of records. Files are opened when reached.
  explicit JsonlReader(std::vector<std::string> paths, ReadOptions options = {})
      : paths_(std::move(paths)), options_(options) {
    PREFOPT_CHECK(!paths_.empty(), "JsonlReader: no files to read");
    PREFOPT_CHECK(options_.max_depth >= 1, "JsonlReader: max_depth must be >= 1, got ", options_.max_depth);
  }
  /// Reads an open source (memory, a pipe); its name() names it in messages. It is taken as is:
  /// wrap it in decompress_if_gzip() to accept gzip too.
  explicit JsonlReader(std::unique_ptr<ByteSource> source, ReadOptions options = {}) : options_(options) {
    PREFOPT_CHECK(source != nullptr, "JsonlReader: null source");
    PREFOPT_CHECK(options_.max_depth >= 1, "JsonlReader: max_depth must be >= 1, got ", options_.max_depth);
    open_source(std::move(source));
  }

  /// Moves the next good record into `record`; false when every file is exhausted. Throws
  /// DataError on a bad record under BadRecords::Throw, StreamError/DataError on I/O failures.
  bool next(Record& record) {
    for (;;) {
      if (!lines_) {
        if (next_path_ == paths_.size()) return false;
        open_file(paths_[next_path_++]);
      }
      if (!lines_->next(line_)) {
        finish_file();
        continue;
      }
      ++stats_.lines;
      const long number = lines_->line_number();
      if (is_blank(line_)) {
        if (pending_blank_ == 0) first_blank_line_ = number;
        ++pending_blank_;
        continue;
      }
      for (index_t k = 0; k < pending_blank_; ++k)
        bad_record(SkipReason::BlankLine, first_blank_line_ + static_cast<long>(k),
                   "blank line (only blank lines at the end of a file are allowed)");
      pending_blank_ = 0;
      if (parse(number, record)) return true;
    }
  }

  /// Counts a record that a later stage found unusable (a pair builder's FieldError) among the
  /// reader's bad records. Only meaningful under BadRecords::Skip; the caller rethrows otherwise.
  void count_bad_record(SkipReason reason, const SourceLine& where, std::string detail) {
    stats_.skipped.add(reason, where, std::move(detail));
  }

  const ReadStats& stats() const noexcept { return stats_; }
  const ReadOptions& options() const noexcept { return options_; }

 private:
  static bool is_blank(std::string_view line) noexcept {
    for (char c : line)
      if (c != ' ' && c != '\t' && c != '\r') return false;  // JSON whitespace ("\n" cannot occur)
    return true;
  }

  void open_file(const std::string& path) {
    std::unique_ptr<ByteSource> source;
    try {
      source = open_data_file(path);
    } catch (const StreamError& e) {
      throw DataError(path, 0, e.detail());
    }
    open_source(std::move(source));
  }
  void open_source(std::unique_ptr<ByteSource> source) {
    file_ = std::make_shared<const std::string>(source->name());
    lines_ = std::make_unique<LineReader>(std::move(source), options_.max_line_bytes);
    ++stats_.files;
    records_in_file_ = 0;
    pending_blank_ = 0;
  }
  void finish_file() {
    stats_.trailing_blank_lines += pending_blank_;
    const long lines = lines_->line_number();
    lines_.reset();
    if (records_in_file_ == 0) {
      const std::string what = lines == 0 ? std::string("no records: the file is empty")
                                          : "no records in " + std::to_string(lines) + " lines";
      bad_record(SkipReason::EmptyFile, lines, what);
    }
  }

  // Parses line_ (line `number`); true when it is a good record.
  bool parse(long number, Record& record) {
    const std::size_t bad_byte = python_str::first_invalid_utf8(line_);
    if (bad_byte != std::string_view::npos) {
      bad_record(SkipReason::InvalidUtf8, number,
                 "invalid UTF-8 at byte " + std::to_string(bad_byte + 1) +
                     " of the line (JSON text must be UTF-8; the JSON parser rejects it)");
      return false;
    }
    if (json_nesting_depth(line_, options_.max_depth) > options_.max_depth) {
      bad_record(SkipReason::NestedTooDeep, number,
                 "JSON nests deeper than " + std::to_string(options_.max_depth) + " levels (ReadOptions::max_depth)");
      return false;
    }
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line_);
    } catch (const nlohmann::json::exception& e) {
      bad_record(SkipReason::MalformedJson, number, std::string("malformed JSON: ") + clip(e.what()));
      return false;
    }
    if (!value.is_object()) {
      bad_record(SkipReason::NotAnObject, number, std::string("expected a JSON object, found ") + value.type_name());
      return false;
    }
    record = Record(std::move(value), SourceLine{file_, number});
    ++records_in_file_;
    ++stats_.records;
    return true;
  }

  void bad_record(SkipReason reason, long number, const std::string& what) {
    if (options_.bad_records == BadRecords::Throw) throw DataError(*file_, number, what);
    stats_.skipped.add(reason, SourceLine{file_, number}, what);
  }

  static std::string clip(const std::string& text) {
    constexpr std::size_t limit = 300;  // parser messages quote the offending token
    if (text.size() <= limit) return text;
    std::size_t cut = limit;  // do not split a UTF-8 sequence
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut) + "...";
  }

  std::vector<std::string> paths_;
  std::size_t next_path_ = 0;
  ReadOptions options_;
  ReadStats stats_;
  std::unique_ptr<LineReader> lines_;
  std::shared_ptr<const std::string> file_;
  std::string line_;
  index_t records_in_file_ = 0;
  index_t pending_blank_ = 0;  // blank lines not yet followed by a record
  long first_blank_line_ = 0;
};

}  // namespace prefopt
