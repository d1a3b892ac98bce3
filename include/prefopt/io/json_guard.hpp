// SPDX-License-Identifier: MIT
// parse_untrusted_json: nlohmann::json parsing of untrusted text (checkpoint headers, config
// files) with the limits a DOM parse lacks. A first, streaming pass (nlohmann's SAX interface,
// linear time, no allocation beyond the key sets) refuses invalid JSON, nesting deeper than a
// bound and, optionally, repeated keys; only then is the DOM built.
//
// Why not nlohmann's parser callback, which could do the same checks during the DOM parse: its
// DOM builder rescans the parent object for discarded values after every nested object
// (json_sax_dom_callback_parser::end_object), which is quadratic in the number of entries; a
// 90 MB safetensors header of 1.5 million empty tensors took 20 minutes that way.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"

namespace prefopt {

namespace io_detail {

// Messages quote at most this many characters of untrusted text (names, parser diagnostics).
inline constexpr std::size_t max_quoted_length = 200;
inline std::string clipped(const std::string& text) {
  return text.size() <= max_quoted_length ? text : text.substr(0, max_quoted_length) + "...";
}

class JsonStructureCheck {
 public:
  using json = nlohmann::json;

  JsonStructureCheck(int max_depth, bool refuse_duplicate_keys, const std::string& source, const std::string& what)
      : max_depth_(max_depth), refuse_duplicates_(refuse_duplicate_keys), source_(source), what_(what) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) {
    enter();
    keys_.emplace_back();
    return true;
  }
  bool key(json::string_t& key) {
    if (refuse_duplicates_ && !keys_.back().insert(key).second)
      throw CheckpointError(source_, what_ + " repeats the key \"" + clipped(key) + "\"");
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    enter();
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    throw CheckpointError(source_, what_ + " is not valid JSON: " + clipped(e.what()));
  }

 private:
  void enter() {
    if (++depth_ > max_depth_)
      throw CheckpointError(source_, what_ + " nests deeper than " + std::to_string(max_depth_) + " levels");
  }

  int max_depth_;
  bool refuse_duplicates_;
  const std::string& source_;
  const std::string& what_;
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // one set per open object
};

}  // namespace io_detail

/// Whether parse_untrusted_json refuses an object that repeats a key (nlohmann keeps the last
/// value silently, which would let a second entry shadow the first).
enum class DuplicateKeys { refuse, keep_last };

/// Parses text[first, last) into a DOM after checking its structure in a linear streaming pass.
/// Throws CheckpointError(source, "<what> is not valid JSON: ..." / "... nests deeper than N
/// levels" / "... repeats the key ...") and nothing else on malformed input. `max_depth` counts
/// open objects and arrays: {"a": [1]} has depth 2.
inline nlohmann::json parse_untrusted_json(const char* first, const char* last, int max_depth,
                                           DuplicateKeys duplicates, const std::string& source,
                                           const std::string& what) {
  io_detail::JsonStructureCheck check(max_depth, duplicates == DuplicateKeys::refuse, source, what);
  try {
    nlohmann::json::sax_parse(first, last, &check);
    return nlohmann::json::parse(first, last);
  } catch (const nlohmann::json::exception& e) {
    // Unreachable after a successful streaming pass, but any parser exception must leave as a
    // CheckpointError.
    throw CheckpointError(source, what + " is not valid JSON: " + io_detail::clipped(e.what()));
  }
}

}  // namespace prefopt
