#include "validation/json_schema.h"

// valijson aborts the process on errors unless told to throw.
#define VALIJSON_USE_EXCEPTIONS 1
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>
#include <stdexcept>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace sluice::validation {
namespace {

namespace json = boost::json;

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
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

// Checks format email/uri along properties, additionalProperties and items.
std::optional<std::string> check_formats(const json::value& schema, const json::value& value,
                                         const std::string& path) {
  const auto* s = schema.if_object();
  if (!s) return std::nullopt;
  auto where = [&] { return path.empty() ? std::string("the event") : "field \"" + path + "\""; };
  if (const auto* format = s->if_contains("format"); format && format->is_string()) {
    if (const auto* text = value.if_string()) {
      const std::string_view f = format->get_string();
      if (f == "email" && !is_email(*text)) return where() + ": is not a valid email address";
      if (f == "uri" && !is_uri(*text)) return where() + ": is not a valid absolute URI";
    }
  }
  if (const auto* object = value.if_object()) {
    const json::object* properties = nullptr;
    if (const auto* p = s->if_contains("properties")) properties = p->if_object();
    const json::value* additional = s->if_contains("additionalProperties");
    for (const auto& [name, child] : *object) {
      const std::string child_path = path.empty() ? std::string(name) : path + "." + name.data();
      const json::value* sub = properties ? properties->if_contains(name) : nullptr;
      if (!sub) sub = additional;
      if (sub) {
        if (auto e = check_formats(*sub, child, child_path)) return e;
      }
    }
  }
  if (const auto* array = value.if_array()) {
    const json::value* items = s->if_contains("items");
    for (std::size_t i = 0; items && i < array->size(); ++i) {
      const json::value* sub = items;
      if (const auto* list = items->if_array()) sub = i < list->size() ? &(*list)[i] : nullptr;
      if (sub) {
        if (auto e = check_formats(*sub, (*array)[i], fmt::format("{}[{}]", path, i))) return e;
      }
    }
  }
  return std::nullopt;
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

}  // namespace

bool is_email(std::string_view text) {
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= text.size()) return false;
  const std::string_view local = text.substr(0, at);
  const std::string_view domain = text.substr(at + 1);
  constexpr std::string_view kLocalSpecials = "!#$%&'*+/=?^_`{|}~-";
  char previous = '.';
  for (char c : local) {
    if (c == '.') {
      if (previous == '.') return false;  // leading or doubled dot
    } else if (!is_alpha(c) && !is_digit(c) && kLocalSpecials.find(c) == std::string_view::npos) {
      return false;
    }
    previous = c;
  }
  if (previous == '.') return false;
  std::size_t label = 0;
  previous = '.';
  for (char c : domain) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (is_alpha(c) || is_digit(c) || (c == '-' && label > 0)) {
      ++label;
    } else {
      return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

bool is_uri(std::string_view text) {
  // RFC 3986 absolute URI: scheme ":" then only URI characters, with valid %-escapes.
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(text[0])) return false;
  for (char c : text.substr(0, colon)) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  constexpr std::string_view kAllowed = "-._~:/?#[]@!$&'()*+,;=";
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
      i += 2;
    } else if (!is_alpha(c) && !is_digit(c) && kAllowed.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

JsonSchema::JsonSchema() : schema_(std::make_unique<valijson::Schema>()) {}
JsonSchema::~JsonSchema() = default;

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(std::string_view json_text) {
  boost::system::error_code ec;
  json::value document = json::parse(json_text, ec);
  if (ec) return make_error(Errc::kInvalidInput, "the schema is not valid JSON: " + ec.message());
  if (!document.is_object() && !document.is_bool()) {
    return make_error(Errc::kInvalidInput, "a schema must be an object (or true/false)");
  }
  std::shared_ptr<JsonSchema> compiled(new JsonSchema());
  compiled->document_ = std::move(document);
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::BoostJsonAdapter adapter(compiled->document_);
    parser.populateSchema(adapter, *compiled->schema_);
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalidInput, fmt::format("the schema is invalid: {}", e.what()));
  }
  return std::shared_ptr<const JsonSchema>(std::move(compiled));
}

std::optional<std::string> JsonSchema::validate(const json::value& value) const {
  // The validator caches compiled `pattern` regexes; one per thread keeps that cache warm.
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
  if (!valid) {
    // The deepest error is the specific one; the others restate it for each enclosing level.
    valijson::ValidationResults::Error error;
    valijson::ValidationResults::Error deepest;
    while (results.popError(error)) {
      if (error.context.size() > deepest.context.size()) deepest = error;
    }
    const std::string path = field_path(deepest.context);
    const std::string where = path.empty() ? "the event" : "field \"" + path + "\"";
    return fmt::format("{}: {}", where, tidy_numbers(deepest.description));
  }
  return check_formats(document_, value, "");
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
