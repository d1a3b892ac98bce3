// SPDX-License-Identifier: MIT
// ReasonLog<Reason>: counts of records or pairs that a stage did not pass on, per reason, with the
// first few examples (file:line and a short detail) so a report can point at them. Nothing in the
// data layer is dropped without landing in one of these. Reason is an enum class with a
// `std::string_view reason_name(Reason)` found by argument-dependent lookup.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "prefopt/core/types.hpp"

namespace prefopt {

/// Where a record came from: file and 1-based line (0: not tied to a line, e.g. an empty file).
struct SourceLine {
  std::shared_ptr<const std::string> file;
  long line = 0;

  std::string str() const {
    if (!file) return line > 0 ? "line " + std::to_string(line) : std::string("(no source)");
    return *file + ":" + std::to_string(line);
  }
};

template <class Reason>
class ReasonLog {
 public:
  /// Examples kept per reason.
  static constexpr std::size_t max_examples = 5;
  /// Details are clipped to this many bytes (they may quote untrusted text).
  static constexpr std::size_t max_detail_bytes = 160;

  struct Example {
    SourceLine where;
    std::string detail;
  };
  struct Entry {
    index_t count = 0;
    std::vector<Example> examples;
  };

  void add(Reason reason, const SourceLine& where = {}, std::string detail = {}) {
    Entry& e = entries_[reason];
    ++e.count;
    if (e.examples.size() < max_examples) {
      if (detail.size() > max_detail_bytes) {
        std::size_t cut = max_detail_bytes;  // do not split a UTF-8 sequence
        while (cut > 0 && (static_cast<unsigned char>(detail[cut]) & 0xC0) == 0x80) --cut;
        detail.resize(cut);
        detail += "...";
      }
      e.examples.push_back({where, std::move(detail)});
    }
  }
  index_t count(Reason reason) const {
    const auto it = entries_.find(reason);
    return it == entries_.end() ? 0 : it->second.count;
  }
  index_t total() const {
    index_t n = 0;
    for (const auto& [reason, e] : entries_) n += e.count;
    return n;
  }
  bool empty() const noexcept { return entries_.empty(); }
  /// Examples of one reason, oldest first (at most max_examples).
  std::vector<Example> examples(Reason reason) const {
    const auto it = entries_.find(reason);
    return it == entries_.end() ? std::vector<Example>{} : it->second.examples;
  }
  /// Entries in the order of the enum's values.
  const std::map<Reason, Entry>& entries() const noexcept { return entries_; }

  void merge(const ReasonLog& other) {
    for (const auto& [reason, theirs] : other.entries_) {
      Entry& mine = entries_[reason];
      mine.count += theirs.count;
      for (const Example& ex : theirs.examples)
        if (mine.examples.size() < max_examples) mine.examples.push_back(ex);
    }
  }

  /// One line per reason: "  <name>: <count> (e.g. file lines 3, 9; first: <detail>)" (file:line
  /// per example when they come from several files).
  void print(std::ostream& out, const std::string& indent = "  ") const {
    for (const auto& [reason, e] : entries_) {
      out << indent << reason_name(reason) << ": " << e.count;
      if (!e.examples.empty()) {
        out << " (e.g. ";
        const SourceLine& first = e.examples.front().where;
        bool one_file = first.file != nullptr;
        for (const Example& ex : e.examples) one_file = one_file && ex.where.file && *ex.where.file == *first.file;
        if (one_file) out << *first.file << (e.examples.size() > 1 ? " lines " : " line ");
        for (std::size_t i = 0; i < e.examples.size(); ++i) {
          if (i > 0) out << ", ";
          if (one_file) out << e.examples[i].where.line;
          else out << e.examples[i].where.str();
        }
        if (!e.examples.front().detail.empty()) out << "; first: " << e.examples.front().detail;
        out << ")";
      }
      out << "\n";
    }
  }
  std::string to_string(const std::string& indent = "  ") const {
    std::ostringstream out;
    print(out, indent);
    return out.str();
  }

 private:
  std::map<Reason, Entry> entries_;
};

}  // namespace prefopt
