#pragma once
// JSON Schema validation of events (draft 7), backed by valijson.
//
// Tested against the official JSON-Schema-Test-Suite: all of draft 7 except remote $ref, with
// the formats date-time, date, time, email and uri. `pattern` and `format` are checked by
// Sluice (validation/safe_keywords.h: RE2 and single-pass checks, so no value can make them
// recurse or backtrack); the rest by valijson.
//
// A compiled schema is immutable and may be used from any number of threads at once.

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace valijson {
class Schema;
class ValidationResults;
}  // namespace valijson

namespace sluice::validation {

class JsonSchema {
 public:
  // Parses and compiles a schema given as JSON text; the error says what is wrong with it.
  static Result<std::shared_ptr<const JsonSchema>> compile(std::string_view json_text);

  ~JsonSchema();
  JsonSchema(const JsonSchema&) = delete;
  JsonSchema& operator=(const JsonSchema&) = delete;

  // Events that fail report this many failures at most ("; and N more" after them).
  static constexpr std::size_t kMaxReportedFailures = 5;

  // nullopt when `value` is valid; otherwise one line naming each failing field and its rule,
  // separated by "; ", such as `field "temp": expected number, got string "hot"; field
  // "humidity": expected number less than or equal to 100`.
  std::optional<std::string> validate(const boost::json::value& value) const;

  // The "type" the schema gives a top-level property ("integer", "number", "boolean",
  // "array", ...), or empty. Forms use it to turn their text values into typed ones.
  std::string property_type(std::string_view name) const;

 private:
  JsonSchema();
  std::string describe_failures(const boost::json::value& value,
                                valijson::ValidationResults& results) const;
  // `expected number, got string "hot"` for a type failure at valijson's `context`.
  std::optional<std::string> type_mismatch(const boost::json::value& value,
                                           const std::vector<std::string>& context) const;
  std::unique_ptr<valijson::Schema> schema_;
  boost::json::value document_;
  bool bounded_names_ = false;  // the schema has patternProperties
};

}  // namespace sluice::validation
