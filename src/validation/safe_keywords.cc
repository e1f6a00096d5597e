#include "validation/safe_keywords.h"

// valijson aborts the process on errors unless told to throw.
#define VALIJSON_USE_EXCEPTIONS 1
#include <fmt/format.h>
#include <re2/re2.h>

#include <boost/json/serialize.hpp>
#include <memory>
#include <new>
#include <stdexcept>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>

#include "validation/formats.h"

namespace sluice::validation {
namespace {

namespace json = boost::json;
using valijson::ValidationResults;
using valijson::adapters::Adapter;
using valijson::constraints::Constraint;
using valijson::constraints::PolyConstraint;

// Names no schema author writes; valijson ignores unknown keywords, so nothing else sees them.
constexpr std::string_view kPatternKeyword = "sluice:pattern";
constexpr std::string_view kFormatKeyword = "sluice:format";

// JSON Schema patterns are ECMA 262 regular expressions; RE2 takes the same syntax except
// look-around and backreferences, which it refuses at compile time.
std::shared_ptr<const RE2> compile_pattern(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto regex = std::make_shared<const RE2>(pattern, options);
  return regex->ok() ? regex : nullptr;
}

class PatternConstraint final : public PolyConstraint {
 public:
  PatternConstraint(std::shared_ptr<const RE2> regex, std::string text)
      : regex_(std::move(regex)), text_(std::move(text)) {}

  bool validate(const Adapter& target, const std::vector<std::string>& context,
                ValidationResults* results) const override {
    std::string value;
    if (!target.isString() || !target.getString(value)) return true;  // strings only
    if (RE2::PartialMatch(value, *regex_)) return true;
    if (results) results->pushError(context, fmt::format("does not match the pattern {}", text_));
    return false;
  }

 private:
  Constraint* cloneInto(void* memory) const override {
    return new (memory) PatternConstraint(*this);
  }
  std::size_t sizeOf() const override { return sizeof(PatternConstraint); }

  std::shared_ptr<const RE2> regex_;
  std::string text_;
};

class FormatConstraint final : public PolyConstraint {
 public:
  FormatConstraint(FormatCheck check, std::string name) : check_(check), name_(std::move(name)) {}

  bool validate(const Adapter& target, const std::vector<std::string>& context,
                ValidationResults* results) const override {
    std::string value;
    if (!check_ || !target.isString() || !target.getString(value)) return true;
    if (check_(value)) return true;
    if (results) results->pushError(context, fmt::format("is not a valid {}", name_));
    return false;
  }

 private:
  Constraint* cloneInto(void* memory) const override {
    return new (memory) FormatConstraint(*this);
  }
  std::size_t sizeOf() const override { return sizeof(FormatConstraint); }

  FormatCheck check_;
  std::string name_;
};

class PatternBuilder final : public valijson::ConstraintBuilder {
 public:
  Constraint* make(const Adapter& node) const override {
    std::string pattern;
    if (!node.getString(pattern)) throw std::runtime_error("'pattern' must be a string");
    auto regex = compile_pattern(pattern);
    if (!regex) throw std::runtime_error("pattern " + pattern + " is not supported");
    return new PatternConstraint(std::move(regex), json::serialize(json::value(pattern)));
  }
};

class FormatBuilder final : public valijson::ConstraintBuilder {
 public:
  Constraint* make(const Adapter& node) const override {
    std::string format;
    if (!node.getString(format)) throw std::runtime_error("'format' must be a string");
    const std::string name = format == "email" ? "email address"
                             : format == "uri" ? "absolute URI"
                                               : format + " (RFC 3339)";
    return new FormatConstraint(format_check(format), name);
  }
};

// Keywords whose value is data, not a schema: never walked.
bool holds_data(std::string_view keyword) {
  return keyword == "const" || keyword == "enum" || keyword == "default" || keyword == "examples";
}

// Keywords whose value is a map from names to schemas.
bool holds_schema_map(std::string_view keyword) {
  return keyword == "properties" || keyword == "patternProperties" || keyword == "definitions" ||
         keyword == "$defs" || keyword == "dependencies";
}

Result<void> rewrite(json::value& schema, const std::string& path);

Result<void> rewrite_each(json::value& list, const std::string& path) {
  if (auto* array = list.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto r = rewrite((*array)[i], fmt::format("{}/{}", path, i)); !r) return r;
    }
  } else if (auto* map = list.if_object()) {
    for (auto& [name, child] : *map) {
      if (auto r = rewrite(child, path + "/" + std::string(name)); !r) return r;
    }
  }
  return boost::outcome_v2::success();
}

// Walks every place a schema can be (and, so that a $ref into an unusual place is covered too,
// every object under an unknown keyword), renaming `pattern` and `format`.
Result<void> rewrite(json::value& schema, const std::string& path) {
  auto* object = schema.if_object();
  if (!object) return boost::outcome_v2::success();
  json::object renamed;
  renamed.reserve(object->size());
  for (auto& [key, value] : *object) {
    const std::string_view keyword = key;
    if (keyword == "pattern" && value.is_string()) {
      const std::string pattern(value.get_string());
      if (!compile_pattern(pattern)) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("#{}/pattern: {} is not a pattern Sluice can check (RE2 "
                                      "syntax: no look-around, no backreferences)",
                                      path, pattern));
      }
      renamed.emplace(kPatternKeyword, std::move(value));
      continue;
    }
    if (keyword == "format" && value.is_string()) {
      renamed.emplace(kFormatKeyword, std::move(value));
      continue;
    }
    if (!holds_data(keyword)) {
      const std::string child = path + "/" + std::string(keyword);
      auto r = holds_schema_map(keyword) || value.is_array() ? rewrite_each(value, child)
                                                             : rewrite(value, child);
      if (!r) return r;
    }
    renamed.emplace(key, std::move(value));
  }
  *object = std::move(renamed);
  return boost::outcome_v2::success();
}

bool has_pattern_properties(const json::value& value) {
  if (const auto* object = value.if_object()) {
    for (const auto& [key, child] : *object) {
      if (key == "patternProperties" && child.is_object() && !child.get_object().empty()) {
        return true;
      }
      if (!holds_data(key) && has_pattern_properties(child)) return true;
    }
  } else if (const auto* array = value.if_array()) {
    for (const auto& child : *array) {
      if (has_pattern_properties(child)) return true;
    }
  }
  return false;
}

}  // namespace

Result<json::value> with_safe_keywords(const json::value& schema) {
  json::value copy = schema;
  if (auto r = rewrite(copy, ""); !r) return r.error();
  return copy;
}

void add_safe_keyword_builders(valijson::SchemaParser& parser) {
  parser.addConstraintBuilder(std::string(kPatternKeyword), new PatternBuilder());
  parser.addConstraintBuilder(std::string(kFormatKeyword), new FormatBuilder());
}

bool uses_pattern_properties(const json::value& schema) {
  return has_pattern_properties(schema);
}

}  // namespace sluice::validation
