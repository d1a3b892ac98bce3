// SPDX-License-Identifier: MIT
// Record: one parsed JSONL row (a JSON object) that knows the file and 1-based line it came from,
// so that every message about it can name them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/data/reason_log.hpp"

namespace prefopt {

/// A field a pair builder needs is missing from a record, or is not a string.
class FieldError : public DataError {
 public:
  enum class Kind { Missing, NotAString };

  FieldError(const std::string& file, long line, std::string field, Kind kind, std::string_view found)
      : DataError(file, line, message(field, kind, found)), field_(std::move(field)), kind_(kind), found_(found) {}
  const std::string& field() const noexcept { return field_; }
  Kind kind() const noexcept { return kind_; }
  /// The message without "file:line: ".
  std::string description() const { return message(field_, kind_, found_); }

 private:
  static std::string message(const std::string& field, Kind kind, std::string_view found) {
    if (kind == Kind::Missing) return "field \"" + field + "\" missing";
    return "field \"" + field + "\" is not a string (found " + std::string(found) + ")";
  }
  std::string field_;
  Kind kind_;
  std::string found_;  // JSON type name of the value found, for NotAString
};

class Record {
 public:
  Record() = default;
  /// `object` must be a JSON object (ArgumentError otherwise).
  Record(nlohmann::json object, SourceLine where) : object_(std::move(object)), where_(std::move(where)) {
    PREFOPT_CHECK(object_.is_object(), "Record: a record is a JSON object, got ", object_.type_name());
  }

  /// The file name as given to the reader ("" when the record has no file).
  const std::string& file() const noexcept {
    static const std::string none;
    return where_.file ? *where_.file : none;
  }
  long line() const noexcept { return where_.line; }
  const SourceLine& where() const noexcept { return where_; }
  const nlohmann::json& json() const noexcept { return object_; }

  bool has_field(std::string_view name) const { return object_.find(std::string(name)) != object_.end(); }

  /// The string value of field `name`. Throws FieldError ("file:line: field "chosen" missing",
  /// "... is not a string (found number)").
  const std::string& string_field(std::string_view name) const {
    const auto it = object_.find(std::string(name));
    if (it == object_.end()) throw FieldError(file(), line(), std::string(name), FieldError::Kind::Missing, "");
    if (!it->is_string())
      throw FieldError(file(), line(), std::string(name), FieldError::Kind::NotAString, it->type_name());
    return it->get_ref<const std::string&>();
  }
  /// The string value of field `name`, or nullptr when it is missing or not a string.
  const std::string* find_string(std::string_view name) const {
    const auto it = object_.find(std::string(name));
    return it != object_.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  }

 private:
  nlohmann::json object_ = nlohmann::json::object();
  SourceLine where_;
};

}  // namespace prefopt
