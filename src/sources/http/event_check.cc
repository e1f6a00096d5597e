#include "sources/http/event_check.h"

#include <fmt/format.h>

#include <optional>

#include "core/time.h"

namespace sluice::http {
namespace {

// Reads an envelope field that must be text (strings; numbers and booleans as written).
// Returns the error message, if any.
std::optional<std::string> field_text(od::value value, std::string_view name, std::size_t limit,
                                      std::optional<std::string_view>& out,
                                      simdjson::error_code& syntax) {
  od::json_type type;
  syntax = value.type().get(type);
  if (syntax) return std::nullopt;
  std::string_view text;
  if (type == od::json_type::string) {
    syntax = value.get_string().get(text);
    if (syntax) return std::nullopt;
  } else if (type == od::json_type::number) {
    od::number number;
    syntax = value.get_number().get(number);
    if (syntax) return std::nullopt;
    text = value.raw_json_token();
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                             text.back() == '\t')) {
      text.remove_suffix(1);
    }
  } else {
    syntax = walk(value, 1);
    return fmt::format("field \"{}\" must be a string or a number", name);
  }
  if (text.size() > limit) {
    return fmt::format("field \"{}\" is {} bytes long; the limit is {}", name, text.size(), limit);
  }
  out = text;
  return std::nullopt;
}

std::optional<std::string> field_time(od::value value, std::string_view name, std::int64_t& out_ms,
                                      simdjson::error_code& syntax) {
  od::json_type type;
  syntax = value.type().get(type);
  if (syntax) return std::nullopt;
  if (type == od::json_type::string) {
    std::string_view text;
    syntax = value.get_string().get(text);
    if (syntax) return std::nullopt;
    if (auto ms = parse_time_text(text)) {
      out_ms = *ms;
      return std::nullopt;
    }
    return fmt::format("field \"{}\": \"{}\" is not an ISO-8601 time or an epoch number", name,
                       text.substr(0, 64));
  }
  if (type == od::json_type::number) {
    double number;
    syntax = value.get_double().get(number);
    if (syntax) return std::nullopt;
    if (auto ms = epoch_number_to_ms(number)) {
      out_ms = *ms;
      return std::nullopt;
    }
    return fmt::format("field \"{}\": {} is not a valid epoch time", name, number);
  }
  syntax = walk(value, 1);
  return fmt::format("field \"{}\" must be an ISO-8601 string or an epoch number", name);
}

// Validates a document that is not an object (an array or a scalar) completely.
simdjson::error_code check_non_object(od::document& doc, od::json_type type) {
  switch (type) {
    case od::json_type::array: {
      od::value value;
      if (auto e = doc.get_value().get(value)) return e;
      return walk(value, 1);
    }
    case od::json_type::number: {
      od::number number;
      return doc.get_number().get(number);
    }
    case od::json_type::string: {
      std::string_view text;
      return doc.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool flag;
      return doc.get_bool().get(flag);
    }
    case od::json_type::null: {
      bool is_null;
      if (auto e = doc.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
    case od::json_type::object:
      break;
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

std::size_t skip_space(std::string_view s, std::size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) {
    ++pos;
  }
  return pos;
}

std::string_view trim(std::string_view s) {
  std::size_t begin = skip_space(s, 0);
  std::size_t end = s.size();
  while (end > begin &&
         (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n' || s[end - 1] == '\r')) {
    --end;
  }
  return s.substr(begin, end - begin);
}

// Walks a value completely so every token is checked.
simdjson::error_code walk(od::value value, int depth) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto e = value.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto e = value.get_object().get(object)) return e;
      for (auto field : object) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = walk(child, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto e = value.get_array().get(array)) return e;
      for (auto element : array) {
        od::value child;
        if (auto e = element.get(child)) return e;
        if (auto e = walk(child, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number number;
      return value.get_number().get(number);
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool flag;
      return value.get_bool().get(flag);
    }
    case od::json_type::null: {
      bool is_null;
      if (auto e = value.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// simdjson's messages speak of its internals; clients need to know what is wrong with their text.
std::string describe(simdjson::error_code e) {
  switch (e) {
    case simdjson::DEPTH_ERROR:
      return fmt::format("JSON nesting is deeper than {} levels", kMaxJsonDepth);
    case simdjson::TAPE_ERROR:
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "unexpected character or end of input (a missing or extra comma, colon, brace or "
             "bracket)";
    case simdjson::INCORRECT_TYPE:
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "invalid value (expected a string, number, object, array, "
             "true, false or null)";
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "invalid number";
    case simdjson::STRING_ERROR:
      return "invalid escape in a string";
    case simdjson::UNCLOSED_STRING:
      return "unterminated string";
    case simdjson::UNESCAPED_CHARS:
      return "control character inside a string (escape it)";
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::EMPTY:
      return "no JSON value";
    default:
      return simdjson::error_message(e);
  }
}

// True once every token of the document has been consumed.
bool at_end(od::document& doc) {
  const char* at = nullptr;
  return doc.current_location().get(at) == simdjson::OUT_OF_BOUNDS;
}

std::size_t location_offset(od::document& doc, std::string_view body, std::size_t fallback) {
  const char* at = nullptr;
  if (doc.current_location().get(at) == simdjson::SUCCESS && at >= body.data() &&
      at <= body.data() + body.size()) {
    return static_cast<std::size_t>(at - body.data());
  }
  return fallback;
}

// Checks one event whose text is `span` (a view into `body`, whose buffer has padding after).
EventCheck check_event(od::parser& parser, std::string_view body, std::size_t capacity,
                       std::string_view span, const StreamConfig& stream) {
  EventCheck check;
  const auto span_start = static_cast<std::size_t>(span.data() - body.data());
  auto syntax_error = [&](simdjson::error_code e, std::size_t offset) {
    check.outcome = EventCheck::Outcome::kSyntax;
    check.offset = offset;
    check.error = describe(e);
    return check;
  };
  od::document doc;
  if (auto e = parser.iterate(span.data(), span.size(), capacity - span_start).get(doc)) {
    return syntax_error(e, span_start);
  }
  od::json_type type;
  if (auto e = doc.type().get(type)) return syntax_error(e, location_offset(doc, body, span_start));
  if (type != od::json_type::object) {
    // Not an event, but it must still be valid JSON for the rest of the body to be trusted.
    if (auto e = check_non_object(doc, type)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    check.outcome = EventCheck::Outcome::kRejected;
    check.error = "an event must be a JSON object";
    return check;
  }
  od::object object;
  if (auto e = doc.get_object().get(object)) {
    return syntax_error(e, location_offset(doc, body, span_start));
  }
  std::optional<std::string> rejection;
  std::optional<std::string_view> id;
  std::optional<std::int64_t> ts;
  for (auto field : object) {
    std::string_view name;
    if (auto e = field.unescaped_key().get(name)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    od::value value;
    if (auto e = field.value().get(value)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    // A field is read once; when two settings name the same field the first one here wins.
    simdjson::error_code e = simdjson::SUCCESS;
    std::optional<std::string> problem;
    if (!stream.id_field.empty() && name == stream.id_field) {
      problem = field_text(value, name, kMaxIdBytes, id, e);
    } else if (!stream.key_field.empty() && name == stream.key_field) {
      problem = field_text(value, name, kMaxKeyBytes, check.event.key, e);
    } else if (!stream.type_field.empty() && name == stream.type_field) {
      problem = field_text(value, name, kMaxTypeBytes, check.event.type, e);
    } else if (!stream.time_field.empty() && name == stream.time_field) {
      std::int64_t ms = 0;
      problem = field_time(value, name, ms, e);
      if (!problem && !e) ts = ms;
    } else {
      e = walk(value, 2);
    }
    if (e) return syntax_error(e, location_offset(doc, body, span_start));
    if (problem && !rejection) rejection = std::move(problem);
  }
  if (!at_end(doc)) {
    auto result = syntax_error(simdjson::TRAILING_CONTENT,
                               location_offset(doc, body, span_start + span.size()));
    result.trailing = true;
    result.error = "unexpected text after the end of a JSON value";
    return result;
  }
  if (rejection) {
    check.outcome = EventCheck::Outcome::kRejected;
    check.error = std::move(*rejection);
    return check;
  }
  if (id && id->empty()) {
    check.outcome = EventCheck::Outcome::kRejected;
    check.error = fmt::format("field \"{}\" is empty", stream.id_field);
    return check;
  }
  check.event.id = id.value_or(std::string_view());
  check.has_time = ts.has_value();
  check.event.ts_ms = ts.value_or(0);
  check.event.payload = span;
  return check;
}

}  // namespace sluice::http
