#include "validation/json_schema.h"

// valijson aborts the process on errors unless told to throw.
#define VALIJSON_USE_EXCEPTIONS 1
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <unordered_set>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "core/json_write.h"
#include "validation/safe_keywords.h"

namespace sluice::validation {
namespace {

namespace json = boost::json;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "field \"tags\"[2]" from valijson's context {"<root>", "[tags]", "[2]"}.
std::string field_path(const std::vector<std::string>& context) {
  std::string path;
  for (const auto& part : context) {
    if (part == "<root>" || part.size() < 2) continue;
    std::string name = part.substr(1, part.size() - 2);
    const bool index = !name.empty() && std::all_of(name.begin(), name.end(), is_digit);
    if (index && !path.empty()) {
      path += "[" + name + "]";
    } else {
      path += path.empty() ? name : "." + name;
    }
  }
  return path;
}

// valijson prints limits with std::to_string: "90.000000" becomes "90", "2.500000" "2.5".
std::string tidy_numbers(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (!is_digit(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && (is_digit(text[end]) || text[end] == '.'))
      ++end;
    std::string number = text.substr(i, end - i);
    if (auto dot = number.find('.'); dot != std::string::npos && dot + 1 < number.size()) {
      while (number.back() == '0')
        number.pop_back();
      if (number.back() == '.') number.pop_back();
    }
    out += number;
    i = end;
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z') out[0] = static_cast<char>(out[0] + 32);
  return out;
}

// Draft 6 and later count a number with a zero fractional part (1.0) as an integer; valijson
// counts, as draft 4 did, only numbers written without one (and only within int64, which is
// as far as this goes too).
bool integral_double(const json::value& value) {
  if (!value.is_double()) return false;
  const double d = value.get_double();
  return std::trunc(d) == d && std::fabs(d) < 9223372036854775808.0;
}

bool holds_integral_double(const json::value& value) {
  if (integral_double(value)) return true;
  if (const auto* array = value.if_array()) {
    return std::any_of(array->begin(), array->end(), holds_integral_double);
  }
  if (const auto* object = value.if_object()) {
    return std::any_of(object->begin(), object->end(),
                       [](const auto& field) { return holds_integral_double(field.value()); });
  }
  return false;
}

// `value` with every integral double made an integer, for valijson.
json::value integers_as_integers(const json::value& value) {
  if (integral_double(value)) return json::value(static_cast<std::int64_t>(value.get_double()));
  if (const auto* array = value.if_array()) {
    json::array out;
    out.reserve(array->size());
    for (const auto& element : *array)
      out.push_back(integers_as_integers(element));
    return out;
  }
  if (const auto* object = value.if_object()) {
    json::object out;
    out.reserve(object->size());
    for (const auto& [name, child] : *object)
      out.emplace(name, integers_as_integers(child));
    return out;
  }
  return value;
}

// valijson matches `patternProperties` against property names with std::regex, whose matcher
// recurses once per character: names are bounded before it sees them.
std::optional<std::string> name_too_long(const json::value& value, const std::string& path) {
  if (const auto* object = value.if_object()) {
    for (const auto& [name, child] : *object) {
      if (name.size() > kMaxPatternedName) {
        return fmt::format(
            "{}: a field name is {} bytes long; this stream's schema matches field names "
            "against patterns (patternProperties), which takes names of at most {} bytes",
            path.empty() ? std::string("the event") : "field \"" + path + "\"", name.size(),
            kMaxPatternedName);
      }
      const std::string child_path = path.empty() ? std::string(name) : path + "." + name.data();
      if (auto e = name_too_long(child, child_path)) return e;
    }
  } else if (const auto* array = value.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto e = name_too_long((*array)[i], fmt::format("{}[{}]", path, i))) return e;
    }
  }
  return std::nullopt;
}

}  // namespace

JsonSchema::JsonSchema() : schema_(std::make_unique<valijson::Schema>()) {}
JsonSchema::~JsonSchema() = default;

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(std::string_view json_text) {
  boost::system::error_code ec;
  json::value document = json::parse(json_text, ec);
  if (ec) return make_error(Errc::kInvalidInput, "the schema is not valid JSON: " + ec.message());
  if (!document.is_object() && !document.is_bool()) {
    return make_error(Errc::kInvalidInput, "a schema must be an object (or true/false)");
  }
  auto safe = with_safe_keywords(document);
  if (!safe)
    return make_error(Errc::kInvalidInput, "the schema is invalid: " + safe.error().message);
  std::shared_ptr<JsonSchema> compiled(new JsonSchema());
  compiled->bounded_names_ = uses_pattern_properties(document);
  compiled->document_ = std::move(document);
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    add_safe_keyword_builders(parser);
    valijson::adapters::BoostJsonAdapter adapter(safe.value());
    parser.populateSchema(adapter, *compiled->schema_);
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalidInput, fmt::format("the schema is invalid: {}", e.what()));
  }
  return std::shared_ptr<const JsonSchema>(std::move(compiled));
}

std::optional<std::string> JsonSchema::validate(const json::value& value) const {
  if (bounded_names_) {
    if (auto name = name_too_long(value, "")) return name;
  }
  // The validator caches compiled `patternProperties` regexes; one per thread keeps it warm.
  thread_local valijson::Validator validator;
  valijson::ValidationResults results;
  // A copy only for the rare event that holds a number such as 3.0: 3.0 is an integer.
  const json::value normalised =
      holds_integral_double(value) ? integers_as_integers(value) : json::value();
  valijson::adapters::BoostJsonAdapter adapter(normalised.is_null() ? value : normalised);
  bool valid = false;
  try {
    valid = validator.validate(*schema_, adapter, &results);
  } catch (const std::exception& e) {
    return fmt::format("schema check failed: {}", e.what());
  }
  if (!valid) return describe_failures(value, results);
  return std::nullopt;
}

std::string JsonSchema::describe_failures(const json::value& value,
                                          valijson::ValidationResults& results) const {
  // valijson reports a failure again for every enclosing level ("Failed to validate against
  // schema associated with property name 'temp'."): keep what failed, each once.
  std::vector<valijson::ValidationResults::Error> errors;
  valijson::ValidationResults::Error error;
  while (results.popError(error))
    errors.push_back(std::move(error));
  // The places with a failure below them, as joined context prefixes: one pass, however many
  // fields fail (an event can make thousands of failures).
  auto wrapper = [](const valijson::ValidationResults::Error& e) {
    return e.description.starts_with("Failed to validate");
  };
  auto joined = [](const std::vector<std::string>& context, std::size_t parts) {
    std::string key;
    for (std::size_t i = 0; i < parts; ++i) {
      key += context[i];
      key += '\x1f';
    }
    return key;
  };
  std::unordered_set<std::string> above_a_failure;
  for (const auto& e : errors) {
    if (wrapper(e)) continue;
    for (std::size_t parts = 1; parts < e.context.size(); ++parts)
      above_a_failure.insert(joined(e.context, parts));
  }
  std::vector<std::string> lines;
  std::size_t more = 0;
  for (const auto& e : errors) {
    if (wrapper(e) && above_a_failure.contains(joined(e.context, e.context.size()))) continue;
    if (lines.size() == kMaxReportedFailures) {
      ++more;
      continue;
    }
    const std::string path = field_path(e.context);
    const std::string where = path.empty() ? "the event" : "field \"" + path + "\"";
    std::string what = tidy_numbers(e.description);
    if (e.description.find("'type' constraint") != std::string::npos) {
      if (auto typed = type_mismatch(value, e.context)) what = *typed;
    }
    std::string line = fmt::format("{}: {}", where, what);
    if (std::find(lines.begin(), lines.end(), line) == lines.end())
      lines.push_back(std::move(line));
  }
  std::string out;
  for (const auto& line : lines)
    out += (out.empty() ? "" : "; ") + line;
  if (more > 0) out += fmt::format("; and {} more", more);
  return out;
}

std::optional<std::string> JsonSchema::type_mismatch(
    const json::value& value, const std::vector<std::string>& context) const {
  // The value and its schema at the failing place: properties by name, items by index.
  const json::value* at = &value;
  const json::value* schema = &document_;
  for (const auto& part : context) {
    if (part == "<root>" || part.size() < 2) continue;
    const std::string name = part.substr(1, part.size() - 2);
    const auto* rules = schema->if_object();
    if (!rules) return std::nullopt;
    if (const auto* object = at->if_object()) {
      const auto* properties = rules->if_contains("properties");
      const auto* property = properties && properties->is_object()
                                 ? properties->get_object().if_contains(name)
                                 : nullptr;
      at = object->if_contains(name);
      schema = property;
    } else if (const auto* array = at->if_array()) {
      const std::size_t index = std::strtoull(name.c_str(), nullptr, 10);
      const auto* items = rules->if_contains("items");
      at = index < array->size() ? &(*array)[index] : nullptr;
      schema = items && items->is_object() ? items : nullptr;
    } else {
      return std::nullopt;
    }
    if (!at || !schema) return std::nullopt;
  }
  const auto* rules = schema->if_object();
  const auto* type = rules ? rules->if_contains("type") : nullptr;
  if (!type) return std::nullopt;
  std::string expected;
  if (type->is_string()) {
    expected.assign(type->get_string().data(), type->get_string().size());
  } else if (const auto* types = type->if_array()) {
    for (const auto& t : *types) {
      if (!t.is_string()) return std::nullopt;
      expected += expected.empty() ? "" : " or ";
      expected.append(t.get_string().data(), t.get_string().size());
    }
  } else {
    return std::nullopt;
  }
  const char* got = at->is_string()   ? "string"
                    : at->is_bool()   ? "boolean"
                    : at->is_null()   ? "null"
                    : at->is_array()  ? "array"
                    : at->is_object() ? "object"
                    : at->is_double() ? "number"
                                      : "integer";
  std::string shown = json_text(*at);
  if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
  if (at->is_array() || at->is_object()) return fmt::format("expected {}, got {}", expected, got);
  return fmt::format("expected {}, got {} {}", expected, got, shown);
}

std::string JsonSchema::property_type(std::string_view name) const {
  const auto* root = document_.if_object();
  if (!root) return "";
  const auto* properties = root->if_contains("properties");
  if (!properties || !properties->is_object()) return "";
  const auto* property = properties->get_object().if_contains(name);
  if (!property || !property->is_object()) return "";
  const auto* type = property->get_object().if_contains("type");
  if (!type || !type->is_string()) return "";
  return std::string(type->get_string());
}

}  // namespace sluice::validation
