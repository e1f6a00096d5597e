#include "sources/http/ingest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <optional>

#include "core/json_text.h"
#include "core/time.h"
#include "core/uuid.h"

namespace sluice::http {
namespace {

namespace od = simdjson::ondemand;

// What checking one event produced.
struct EventCheck {
  enum class Outcome { kOk, kRejected, kSyntax } outcome = Outcome::kOk;
  std::string error;       // kRejected / kSyntax
  std::size_t offset = 0;  // kSyntax: byte offset in the body
  bool trailing = false;   // kSyntax: valid JSON followed by more text
  EventView event;         // kOk: strings point into the body or the parser's buffer
  bool has_time = false;   // kOk: event.ts_ms came from the event's time field
};

std::size_t skip_space(std::string_view s, std::size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) {
    ++pos;
  }
  return pos;
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

std::string_view trim(std::string_view s) {
  std::size_t begin = skip_space(s, 0);
  std::size_t end = s.size();
  while (end > begin &&
         (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n' || s[end - 1] == '\r')) {
    --end;
  }
  return s.substr(begin, end - begin);
}

class BatchBuilder {
 public:
  BatchBuilder(std::int64_t received_at_ms, std::size_t body_size, std::uint32_t partitions)
      : received_at_ms_(received_at_ms) {
    batch_.partitions.resize(std::max<std::uint32_t>(partitions, 1));
    // Records are the payload bytes plus about 60 bytes of envelope each; one event per 100
    // bytes of body is a generous guess that keeps the batches from regrowing for typical
    // events (spread evenly over the partitions).
    const std::size_t estimate = body_size + body_size * 6 / 10 + 64;
    for (auto& records : batch_.partitions)
      records.reserve(estimate / batch_.partitions.size());
  }

  // Adds a checked event; false (with `error` set) for a syntax error.
  bool add(EventCheck& check, Error& error) {
    const std::size_t index = index_++;
    switch (check.outcome) {
      case EventCheck::Outcome::kSyntax:
        error = make_error(Errc::kInvalidInput,
                           fmt::format("malformed JSON at byte {}: {}", check.offset, check.error));
        return false;
      case EventCheck::Outcome::kRejected:
        batch_.rejected.push_back({index, std::move(check.error)});
        return true;
      case EventCheck::Outcome::kOk:
        break;
    }
    EventView& event = check.event;
    event.received_at_ms = received_at_ms_;
    if (!check.has_time) event.ts_ms = received_at_ms_;
    std::string generated;
    if (event.id.empty()) {
      generated = uuid_v7(received_at_ms_);
      event.id = generated;
    }
    const auto partitions = static_cast<std::uint32_t>(batch_.partitions.size());
    batch_.partitions[log::partition_for(event.key.value_or(event.id), partitions)].add(event);
    return true;
  }

  Result<IngestBatch> finish() {
    if (index_ == 0) return make_error(Errc::kInvalidInput, "the body holds no events");
    return std::move(batch_);
  }

 private:
  std::int64_t received_at_ms_;
  std::size_t index_ = 0;
  IngestBatch batch_;
};

Result<IngestBatch> parse_lines(od::parser& parser, std::string_view body, std::size_t capacity,
                                const StreamConfig& stream, std::int64_t received_at_ms) {
  BatchBuilder builder(received_at_ms, body.size(), stream.partitions);
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = trim(body.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    auto check = check_event(parser, body, capacity, line, stream);
    Error error;
    if (!builder.add(check, error)) return error;
  }
  return builder.finish();
}

Result<IngestBatch> parse_array(od::parser& outer, od::parser& inner, std::string_view body,
                                std::size_t capacity, const StreamConfig& stream,
                                std::int64_t received_at_ms) {
  BatchBuilder builder(received_at_ms, body.size(), stream.partitions);
  auto syntax = [&](simdjson::error_code e, od::document& doc) -> Error {
    return make_error(Errc::kInvalidInput, fmt::format("malformed JSON at byte {}: {}",
                                                       location_offset(doc, body, 0), describe(e)));
  };
  od::document doc;
  if (auto e = outer.iterate(body.data(), body.size(), capacity).get(doc)) {
    return make_error(Errc::kInvalidInput, fmt::format("malformed JSON: {}", describe(e)));
  }
  od::array array;
  if (auto e = doc.get_array().get(array)) return syntax(e, doc);
  for (auto element : array) {
    od::value value;
    if (auto e = element.get(value)) return syntax(e, doc);
    od::json_type type;
    if (auto e = value.type().get(type)) return syntax(e, doc);
    EventCheck check;
    if (type == od::json_type::object) {
      od::object object;
      std::string_view span;
      if (auto e = value.get_object().get(object)) return syntax(e, doc);
      if (auto e = object.raw_json().get(span)) return syntax(e, doc);
      check = check_event(inner, body, capacity, span, stream);
    } else {
      if (auto e = walk(value, 2)) return syntax(e, doc);
      check.outcome = EventCheck::Outcome::kRejected;
      check.error = "an event must be a JSON object";
    }
    Error error;
    if (!builder.add(check, error)) return error;
  }
  if (!at_end(doc)) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("malformed JSON at byte {}: unexpected text after the array",
                                  location_offset(doc, body, body.size())));
  }
  return builder.finish();
}

}  // namespace

Result<IngestBatch> parse_events(std::string& body, std::string_view content_type,
                                 const StreamConfig& stream, std::int64_t received_at_ms) {
  thread_local od::parser outer;
  thread_local od::parser inner;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  const std::string_view text(body);
  const std::size_t capacity = body.capacity();
  const std::size_t first = skip_space(text, 0);
  if (first == text.size()) return make_error(Errc::kInvalidInput, "the body is empty");

  if (content_type.starts_with("application/x-ndjson")) {
    return parse_lines(inner, text, capacity, stream, received_at_ms);
  }
  if (text[first] == '[') {
    return parse_array(outer, inner, text, capacity, stream, received_at_ms);
  }
  if (text[first] != '{') {
    return make_error(Errc::kInvalidInput,
                      fmt::format("malformed JSON at byte {}: expected a JSON object, an array "
                                  "of objects or NDJSON",
                                  first));
  }
  // One object, or several (NDJSON sent without its content type).
  auto check = check_event(inner, text, capacity, trim(text), stream);
  if (check.outcome == EventCheck::Outcome::kSyntax && check.trailing) {
    return parse_lines(inner, text, capacity, stream, received_at_ms);
  }
  BatchBuilder builder(received_at_ms, body.size(), stream.partitions);
  Error error;
  if (!builder.add(check, error)) return error;
  return builder.finish();
}

std::string ingest_response_json(std::size_t accepted, const std::vector<Rejection>& rejected) {
  std::string out = fmt::format("{{\"accepted\":{},\"rejected\":[", accepted);
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += fmt::format("{{\"index\":{},\"error\":", rejected[i].index);
    append_json_string(out, rejected[i].error);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

}  // namespace sluice::http
