#include "sources/http/ingest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/json.hpp>
#include <optional>

#include "core/json_text.h"
#include "core/time.h"
#include "core/uuid.h"
#include "sources/http/form.h"
#include "sources/http/sanitize.h"

namespace sluice::http {
namespace {

namespace od = simdjson::ondemand;
namespace json = boost::json;

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

std::string malformed(std::size_t offset, std::string_view what) {
  return fmt::format("malformed JSON at byte {}: {}", offset, what);
}

// Walks the body's events and collects them, by partition, into an IngestBatch.
class BodyParser {
 public:
  BodyParser(od::parser& outer, od::parser& inner, std::string_view body, std::size_t capacity,
             const IngestContext& context)
      : outer_(outer), inner_(inner), body_(body), capacity_(capacity), context_(context) {
    batch_.partitions.resize(std::max<std::uint32_t>(context.stream.partitions, 1));
    // Records are the payload bytes plus about 60 bytes of envelope each; one event per 100
    // bytes of body is a generous guess that keeps the batches from regrowing for typical
    // events (spread evenly over the partitions).
    const std::size_t estimate = body.size() + body.size() * 6 / 10 + 64;
    for (auto& records : batch_.partitions)
      records.reserve(estimate / batch_.partitions.size());
  }

  Result<IngestBatch> finish() {
    if (index_ == 0) return make_error(Errc::kInvalidInput, "the body holds no events");
    return std::move(batch_);
  }

  // NDJSON: every line is an event on its own; a malformed line is rejected alone.
  void lines(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = trim(text.substr(pos, end - pos));
      pos = end + 1;
      if (line.empty()) continue;
      auto check = check_event(inner_, body_, capacity_, line, context_.stream);
      if (check.outcome == EventCheck::Outcome::kSyntax) {
        reject(line, false, malformed(check.offset, check.error));
        continue;
      }
      event(line, check);
    }
  }

  // A JSON array of events at `span` (a view into the body). A syntax error anywhere fails
  // the request: the array as a whole cannot be trusted.
  std::optional<Error> array(std::string_view span) {
    const auto start = static_cast<std::size_t>(span.data() - body_.data());
    od::document doc;
    if (auto e = outer_.iterate(span.data(), span.size(), capacity_ - start).get(doc)) {
      return make_error(Errc::kInvalidInput, malformed(start, describe(e)));
    }
    auto syntax = [&](simdjson::error_code e) {
      return make_error(Errc::kInvalidInput,
                        malformed(location_offset(doc, body_, start), describe(e)));
    };
    od::array elements;
    if (auto e = doc.get_array().get(elements)) return syntax(e);
    for (auto element : elements) {
      od::value value;
      if (auto e = element.get(value)) return syntax(e);
      od::json_type type;
      if (auto e = value.type().get(type)) return syntax(e);
      if (type != od::json_type::object) {
        const auto value_start =
            static_cast<std::size_t>(value.raw_json_token().data() - body_.data());
        if (auto e = walk(value, 2)) return syntax(e);
        const std::size_t value_end = location_offset(doc, body_, value_start);
        const std::string_view raw =
            body_.substr(value_start, std::max(value_end, value_start) - value_start);
        reject(trim(raw), false, "an event must be a JSON object");
        continue;
      }
      od::object object;
      std::string_view element_span;
      if (auto e = value.get_object().get(object)) return syntax(e);
      if (auto e = object.raw_json().get(element_span)) return syntax(e);
      auto check = check_event(inner_, body_, capacity_, element_span, context_.stream);
      if (check.outcome == EventCheck::Outcome::kSyntax) {
        if (check.error != describe(simdjson::DEPTH_ERROR)) {
          return make_error(Errc::kInvalidInput, malformed(check.offset, check.error));
        }
        reject(element_span, false, check.error);  // too deep to embed: kept as text
        continue;
      }
      event(element_span, check);
    }
    if (!at_end(doc)) {
      return make_error(Errc::kInvalidInput, malformed(location_offset(doc, body_, body_.size()),
                                                       "unexpected text after the array"));
    }
    return std::nullopt;
  }

  // `{"events": [...], ...}`: true (with the events added) when `span` is such an envelope;
  // false when it is an ordinary event.
  Result<bool> envelope(std::string_view span) {
    const auto& names = context_.stream.envelope_fields;
    const auto start = static_cast<std::size_t>(span.data() - body_.data());
    od::document doc;
    if (outer_.iterate(span.data(), span.size(), capacity_ - start).get(doc)) return false;
    od::object object;
    if (doc.get_object().get(object)) return false;
    std::optional<std::string_view> events;
    for (auto field : object) {
      std::string_view key;
      od::value value;
      od::json_type type;
      if (field.unescaped_key().get(key) || field.value().get(value) || value.type().get(type)) {
        return false;
      }
      std::string name(key);
      std::string_view raw;
      if (!events && type == od::json_type::array &&
          std::find(names.begin(), names.end(), name) != names.end()) {
        od::array elements;
        if (value.get_array().get(elements) || elements.raw_json().get(raw)) return false;
        events = raw;
        continue;
      }
      if (type == od::json_type::object) {
        od::object child;
        if (value.get_object().get(child) || child.raw_json().get(raw)) return false;
      } else if (type == od::json_type::array) {
        od::array child;
        if (value.get_array().get(child) || child.raw_json().get(raw)) return false;
      } else {
        raw = value.raw_json_token();
      }
      boost::system::error_code ec;
      json::value parsed = json::parse(raw, ec, {}, parse_options());
      if (ec) return false;  // reported by the ordinary event path
      extras_.insert_or_assign(name, std::move(parsed));
    }
    if (!events || !at_end(doc)) {  // not an envelope, or several objects (NDJSON)
      extras_.clear();
      return false;
    }
    if (auto error = array(*events)) return std::move(*error);
    return true;
  }

  // One form post: the fields become one event.
  std::optional<Error> form(std::string_view text) {
    auto fields = parse_form(text, context_.policy.schema());
    if (!fields) return fields.error();
    rewritten(std::move(fields.value()), text, false);
    return std::nullopt;
  }

  // A checked event at `span`: stored as it is, or rewritten first.
  void event(std::string_view span, EventCheck& check) {
    if (check.outcome == EventCheck::Outcome::kSyntax) {  // nested too deep: this one alone
      reject(span, false, malformed(check.offset, check.error));
      return;
    }
    if (check.outcome == EventCheck::Outcome::kRejected) {
      reject(span, true, std::move(check.error));
      return;
    }
    if (!context_.policy.rewrites(context_.form) && extras_.empty()) {
      add(check);
      return;
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(span, ec, {}, parse_options());
    if (ec || !parsed.is_object()) {
      reject(span, true, fmt::format("cannot read the event: {}", ec.message()));
      return;
    }
    rewritten(std::move(parsed.get_object()), span, true);
  }

 private:
  static json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = kMaxJsonDepth + 2;
    return options;
  }

  // Applies the envelope's fields and the stream's rules, then stores the new text.
  void rewritten(json::object event, std::string_view original, bool original_is_json) {
    for (const auto& [name, value] : extras_) {
      if (!event.contains(name)) event.emplace(name, value);
    }
    EventContext event_context{.client_ip = context_.client_ip, .form = context_.form};
    if (auto error = context_.policy.apply(event, event_context)) {
      reject(original, original_is_json, std::move(*error));
      return;
    }
    std::string text = json::serialize(event);
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    auto check = check_event(inner_, text, text.capacity(), text, context_.stream);
    if (check.outcome != EventCheck::Outcome::kOk) {
      reject(original, original_is_json, std::move(check.error));
      return;
    }
    add(check);
  }

  void reject(std::string_view text, bool is_json, std::string error) {
    Rejection rejection{.index = index_++, .error = std::move(error)};
    if (context_.keep_rejected) {
      rejection.event = std::string(text);
      rejection.event_is_json = is_json;
    }
    batch_.rejected.push_back(std::move(rejection));
  }

  void add(EventCheck& check) {
    ++index_;
    EventView& event = check.event;
    event.received_at_ms = context_.received_at_ms;
    if (!check.has_time) event.ts_ms = context_.received_at_ms;
    std::string generated;
    if (event.id.empty()) {
      generated = uuid_v7(context_.received_at_ms);
      event.id = generated;
    }
    const auto partitions = static_cast<std::uint32_t>(batch_.partitions.size());
    batch_.partitions[log::partition_for(event.key.value_or(event.id), partitions)].add(event);
  }

  od::parser& outer_;
  od::parser& inner_;
  std::string_view body_;
  std::size_t capacity_;
  const IngestContext& context_;
  std::size_t index_ = 0;
  IngestBatch batch_;
  json::object extras_;  // envelope fields added to every event
};

bool mentions_envelope(std::string_view text, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (text.find("\"" + name + "\"") != std::string_view::npos) return true;
  }
  return false;
}

std::string_view media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  return trim(content_type);
}

// Invalid UTF-8 bytes become U+FFFD so the raw text can sit in a JSON string.
std::string printable_utf8(std::string_view text) {
  if (valid_utf8(text)) return std::string(text);
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80         ? 1
                               : (c >> 5) == 6  ? 2
                               : (c >> 4) == 14 ? 3
                               : (c >> 3) == 30 ? 4
                                                : 0;
    if (length > 0 && i + length <= text.size() && valid_utf8(text.substr(i, length))) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

Result<BodyKind> body_kind(std::string_view content_type, std::string_view body) {
  const std::string_view given = media_type(content_type);
  // Nearly every request says exactly this; only the others need lower-casing.
  if (given == "application/json") return BodyKind::kJson;
  const std::string type = lower_ascii(given);
  if (type.empty() || type == "application/json" || type == "text/plain" ||
      (type.starts_with("application/") && type.ends_with("+json"))) {
    return BodyKind::kJson;
  }
  if (type == "application/x-ndjson" || type == "application/jsonl" ||
      type == "application/jsonlines") {
    return BodyKind::kNdjson;
  }
  if (type == "application/x-www-form-urlencoded") {
    const std::size_t first = skip_space(body, 0);
    if (first < body.size() && (body[first] == '{' || body[first] == '[')) return BodyKind::kJson;
    return BodyKind::kForm;
  }
  return make_error(Errc::kUnsupported,
                    fmt::format("content type \"{}\" is not accepted; send application/json, "
                                "application/x-ndjson, text/plain (JSON) or "
                                "application/x-www-form-urlencoded",
                                type));
}

Result<IngestBatch> parse_body(std::string& body, BodyKind kind, const IngestContext& context) {
  thread_local od::parser outer;
  thread_local od::parser inner;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  const std::string_view text(body);
  BodyParser parser(outer, inner, text, body.capacity(), context);
  const std::size_t first = skip_space(text, 0);
  if (first == text.size()) return make_error(Errc::kInvalidInput, "the body is empty");

  if (kind == BodyKind::kForm) {
    if (auto error = parser.form(text)) return std::move(*error);
    return parser.finish();
  }
  if (kind == BodyKind::kNdjson) {
    parser.lines(text);
    return parser.finish();
  }
  if (text[first] == '[') {
    if (auto error = parser.array(trim(text))) return std::move(*error);
    return parser.finish();
  }
  if (text[first] != '{') {
    return make_error(Errc::kInvalidInput,
                      malformed(first, "expected a JSON object, an array of objects or NDJSON"));
  }
  const std::string_view object = trim(text);
  if (mentions_envelope(object, context.stream.envelope_fields)) {
    auto is_envelope = parser.envelope(object);
    if (!is_envelope) return is_envelope.error();
    if (is_envelope.value()) return parser.finish();
  }
  // One object, or several (NDJSON sent without its content type).
  auto check = check_event(inner, text, body.capacity(), object, context.stream);
  if (check.outcome == EventCheck::Outcome::kSyntax && check.trailing) {
    parser.lines(text);
    return parser.finish();
  }
  if (check.outcome == EventCheck::Outcome::kSyntax &&
      check.error != describe(simdjson::DEPTH_ERROR)) {
    return make_error(Errc::kInvalidInput, malformed(check.offset, check.error));
  }
  parser.event(object, check);
  return parser.finish();
}

std::vector<log::RecordBatch> dead_letter_batches(const std::vector<Rejection>& rejected,
                                                  std::string_view source_stream,
                                                  const StreamConfig& dead,
                                                  std::int64_t received_at_ms) {
  std::vector<log::RecordBatch> batches(std::max<std::uint32_t>(dead.partitions, 1));
  const std::string received_at = format_iso8601_ms(received_at_ms);
  for (const auto& rejection : rejected) {
    std::string payload = "{\"stream\":";
    append_json_string(payload, source_stream);
    payload += fmt::format(",\"index\":{},\"error\":", rejection.index);
    append_json_string(payload, rejection.error);
    payload += ",\"received_at\":";
    append_json_string(payload, received_at);
    if (rejection.event_is_json) {
      payload += ",\"event\":";
      payload += rejection.event;
    } else {
      payload += ",\"raw\":";
      append_json_string(payload, printable_utf8(rejection.event));
    }
    payload += "}";
    const std::string id = uuid_v7(received_at_ms);
    EventView event{.id = id,
                    .ts_ms = received_at_ms,
                    .received_at_ms = received_at_ms,
                    .type = source_stream,
                    .payload = payload};
    const auto partitions = static_cast<std::uint32_t>(batches.size());
    batches[log::partition_for(id, partitions)].add(event);
  }
  return batches;
}

std::string ingest_response_json(std::size_t accepted, const std::vector<Rejection>& rejected) {
  std::string out;
  out.reserve(64);
  fmt::format_to(std::back_inserter(out), "{{\"accepted\":{},\"rejected\":[", accepted);
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
