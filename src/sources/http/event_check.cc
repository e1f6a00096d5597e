#include "sources/http/event_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/json_text.h"
#include "core/time.h"

namespace sluice::collector {
namespace {

// The token without the whitespace simdjson leaves after a scalar.
std::string_view token_text(std::string_view raw) {
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
    raw.remove_suffix(1);
  }
  return raw;
}

// The exponent a valid JSON number is written with (0 without one), saturated far beyond any
// double's range and Boost.JSON's.
long long written_exponent(std::string_view number) {
  const std::size_t at = number.find_first_of("eE");
  if (at == std::string_view::npos) return 0;
  std::string_view digits = number.substr(at + 1);
  const bool negative = digits.front() == '-';
  if (digits.front() == '+' || negative) digits.remove_prefix(1);
  long long value = 0;
  for (char c : digits)
    value = std::min(value * 10 + (c - '0'), 1'000'000'000'000LL);
  return negative ? -value : value;
}

// Whether a valid JSON number that no double can hold is too large (rather than so small that
// it reads as 0): by the decimal exponent of its first nonzero digit.
bool overflows(std::string_view number) {
  const std::string_view mantissa = number.substr(0, number.find_first_of("eE"));
  const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
  const std::size_t first = mantissa.find_first_of("123456789");
  if (first == std::string_view::npos) return false;  // zero
  const long long order = first < point ? static_cast<long long>(point - first) - 1
                                        : -static_cast<long long>(first - point);
  return order + written_exponent(number) > 0;
}

// A number that reads as 0 but that Boost.JSON 1.81 (what the processor, sinks and API read
// events with) cannot read back as 0: zero written with an exponent over 308 (it reads NaN),
// or any exponent beyond ±(2^31 - 1) (it refuses the text).
bool zero_misread(std::string_view number) {
  const long long exponent = written_exponent(number);
  return exponent > 308 || exponent < -2'147'483'647LL;
}

// What a number token is, given simdjson's reading of it (`error`, and `read`, the value as a
// double, when there is none): valid (SUCCESS; an integer beyond 64 bits too, which simdjson
// cannot read: kept as written, and `read` is the nearest double), outside what a double or
// Boost.JSON can take (NUMBER_OUT_OF_RANGE: 1e400 would be read downstream as infinity, which
// JSON cannot write back; 0e999 as NaN), or not a number (NUMBER_ERROR).
simdjson::error_code classify_number(std::string_view token, simdjson::error_code error,
                                     double& read) {
  if (!error) {
    return read == 0 && zero_misread(token) ? simdjson::NUMBER_OUT_OF_RANGE : simdjson::SUCCESS;
  }
  if (error != simdjson::NUMBER_ERROR && error != simdjson::NUMBER_OUT_OF_RANGE) return error;
  if (!is_json_number(token)) return simdjson::NUMBER_ERROR;
  const auto [end, parse] = std::from_chars(token.data(), token.data() + token.size(), read);
  if (parse != std::errc() || end != token.data() + token.size()) {
    if (overflows(token)) return simdjson::NUMBER_OUT_OF_RANGE;
    read = 0;  // so small that it is 0
  }
  return read == 0 && zero_misread(token) ? simdjson::NUMBER_OUT_OF_RANGE : simdjson::SUCCESS;
}

// Checks a number value and reads it as a double (see classify_number).
simdjson::error_code check_number(od::value value, double& read) {
  od::number number;
  const auto error = value.get_number().get(number);
  read = error ? 0 : number.as_double();
  return classify_number(token_text(value.raw_json_token()), error, read);
}

simdjson::error_code check_number(od::value value) {
  double read = 0;
  return check_number(value, read);
}

// Reads an envelope field that must be text (strings; numbers and booleans as written).
// Returns the error message, if any.
std::optional<std::string> field_text(od::value value, std::string_view name, std::size_t limit,
                                      std::optional<std::string_view>& out,
                                      simdjson::error_code& syntax, bool& as_text) {
  od::json_type type;
  syntax = value.type().get(type);
  if (syntax) return std::nullopt;
  std::string_view text;
  if (type == od::json_type::string) {
    syntax = value.get_string().get(text);
    if (syntax) return std::nullopt;
  } else if (type == od::json_type::number) {
    syntax = check_number(value);
    text = token_text(value.raw_json_token());
    if (syntax == simdjson::NUMBER_OUT_OF_RANGE) {
      syntax = simdjson::SUCCESS;
      as_text = true;
      return too_large_message(name, text);
    }
    if (syntax) return std::nullopt;
  } else {
    WalkFindings found;
    syntax = walk(value, 1, found);
    as_text = as_text || !found.too_large.empty() || found.nul;
    return fmt::format("field \"{}\" must be a string or a number", name);
  }
  if (text.size() > limit) {
    return fmt::format("field \"{}\" is {} bytes long; the limit is {}", name, text.size(), limit);
  }
  if (text.find('\0') != std::string_view::npos) {
    as_text = true;
    return nul_message(name);
  }
  out = text;
  return std::nullopt;
}

std::optional<std::string> field_time(od::value value, std::string_view name, std::int64_t& out_ms,
                                      simdjson::error_code& syntax, bool& as_text) {
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
    double number = 0;
    syntax = check_number(value, number);
    if (syntax == simdjson::NUMBER_OUT_OF_RANGE) {
      syntax = simdjson::SUCCESS;
      as_text = true;
      return too_large_message(name, token_text(value.raw_json_token()));
    }
    if (syntax) return std::nullopt;
    if (auto ms = epoch_number_to_ms(number)) {
      out_ms = *ms;
      return std::nullopt;
    }
    return fmt::format("field \"{}\": {} is not a valid epoch time", name, number);
  }
  WalkFindings found;
  syntax = walk(value, 1, found);
  as_text = as_text || !found.too_large.empty() || found.nul;
  return fmt::format("field \"{}\" must be an ISO-8601 string or an epoch number", name);
}

// Validates a document that is not an object (an array or a scalar) completely.
simdjson::error_code check_non_object(od::document& doc, od::json_type type, bool& as_text) {
  switch (type) {
    case od::json_type::array: {
      od::value value;
      if (auto e = doc.get_value().get(value)) return e;
      WalkFindings found;
      const auto e = walk(value, 1, found);
      as_text = !found.too_large.empty() || found.nul;
      return e;
    }
    case od::json_type::number: {  // refused as a non-object whatever its value
      od::number number;
      const auto e = doc.get_number().get(number);
      std::string_view token;
      if (auto raw = doc.raw_json_token().get(token)) return raw;
      double value = e ? 0 : number.as_double();
      const auto read = classify_number(token_text(token), e, value);
      as_text = read == simdjson::NUMBER_OUT_OF_RANGE;
      return as_text ? simdjson::SUCCESS : read;
    }
    case od::json_type::string: {
      std::string_view text;
      if (auto e = doc.get_string().get(text)) return e;
      as_text = text.find('\0') != std::string_view::npos;
      return simdjson::SUCCESS;
    }
    // A document that is one atom: simdjson takes "nulle" or "truex" for null and true (the
    // atom's first letters), so the whole token is compared; the text is embedded as JSON.
    case od::json_type::boolean:
    case od::json_type::null: {
      std::string_view token;
      if (auto e = doc.raw_json_token().get(token)) return e;
      const std::string_view text = token_text(token);
      const bool exact =
          type == od::json_type::null ? text == "null" : text == "true" || text == "false";
      return exact ? simdjson::SUCCESS : simdjson::T_ATOM_ERROR;
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

simdjson::error_code walk(od::value value, int depth, WalkFindings& found) {
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
        found.nul = found.nul || (found.nul_possible && key.find('\0') != std::string_view::npos);
        od::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = walk(child, depth + 1, found)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto e = value.get_array().get(array)) return e;
      for (auto element : array) {
        od::value child;
        if (auto e = element.get(child)) return e;
        if (auto e = walk(child, depth + 1, found)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      const auto e = check_number(value);
      if (e != simdjson::NUMBER_OUT_OF_RANGE) return e;
      if (found.too_large.empty()) found.too_large = token_text(value.raw_json_token());
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view text;
      if (auto e = value.get_string().get(text)) return e;
      found.nul = found.nul || (found.nul_possible && text.find('\0') != std::string_view::npos);
      return simdjson::SUCCESS;
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

simdjson::error_code walk(od::value value, int depth) {
  WalkFindings found;
  return walk(value, depth, found);
}

std::string nul_message(std::string_view field) {
  return fmt::format(
      "field \"{}\" holds a NUL character (\\u0000), which Sluice does not store (no SQL text "
      "column can hold it)",
      field.substr(0, field.find('\0')).substr(0, 256));
}

std::string too_large_message(std::string_view field, std::string_view number) {
  return fmt::format(
      "field \"{}\" holds the number {}, outside a 64-bit float's range (magnitude at most "
      "about 1.8e308, exponent at most 308)",
      field, number.substr(0, 64));
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
                       std::string_view span, const EventFields& fields,
                       const std::vector<std::string>* watch, std::vector<char>* seen) {
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
    if (auto e = check_non_object(doc, type, check.keep_as_text)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    if (!at_end(doc)) {  // `"text"}` is not one JSON value: it cannot be kept as JSON either
      auto result = syntax_error(simdjson::TRAILING_CONTENT,
                                 location_offset(doc, body, span_start + span.size()));
      result.trailing = true;
      result.error = "unexpected text after the end of a JSON value";
      return result;
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
  std::optional<std::string_view> fallback_type;
  // One look through the event's bytes instead of one per name and string.
  const bool nul_possible = span.find("\\u0000") != std::string_view::npos;
  for (auto field : object) {
    std::string_view name;
    if (auto e = field.unescaped_key().get(name)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    if (watch) {
      for (std::size_t i = 0; i < watch->size(); ++i)
        if ((*watch)[i] == name) (*seen)[i] = 1;
    }
    od::value value;
    if (auto e = field.value().get(value)) {
      return syntax_error(e, location_offset(doc, body, span_start));
    }
    // A field is read once; when two settings name the same field the first one here wins.
    simdjson::error_code e = simdjson::SUCCESS;
    std::optional<std::string> problem;
    if (!fields.id.empty() && name == fields.id) {
      problem = field_text(value, name, kMaxIdBytes, id, e, check.keep_as_text);
    } else if (!fields.key.empty() && name == fields.key) {
      problem = field_text(value, name, kMaxKeyBytes, check.event.key, e, check.keep_as_text);
    } else if (!fields.type.empty() && name == fields.type) {
      problem = field_text(value, name, kMaxTypeBytes, check.event.type, e, check.keep_as_text);
    } else if (!fields.type_fallback.empty() && name == fields.type_fallback) {
      problem = field_text(value, name, kMaxTypeBytes, fallback_type, e, check.keep_as_text);
    } else if (!fields.time.empty() && name == fields.time) {
      std::int64_t ms = 0;
      problem = field_time(value, name, ms, e, check.keep_as_text);
      if (!problem && !e) ts = ms;
    } else {
      WalkFindings found{.too_large = {}, .nul = false, .nul_possible = nul_possible};
      e = walk(value, 2, found);
      if (!found.too_large.empty()) {
        problem = too_large_message(name, found.too_large);
        check.keep_as_text = true;
      } else if (found.nul || (nul_possible && name.find('\0') != std::string_view::npos)) {
        problem = nul_message(name);
        check.keep_as_text = true;
      }
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
    check.error = fmt::format("field \"{}\" is empty", fields.id);
    return check;
  }
  if (!check.event.type && fallback_type) check.event.type = fallback_type;
  check.event.id = id.value_or(std::string_view());
  check.has_time = ts.has_value();
  check.event.ts_ms = ts.value_or(0);
  check.event.payload = span;
  return check;
}

}  // namespace sluice::collector
