#include "sources/http/ingest.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "core/json_finite.h"
#include "core/json_text.h"
#include "core/time.h"
#include "core/uuid.h"
#include "sources/http/event_check.h"
#include "sources/http/form.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

namespace json = boost::json;

// The most an envelope's fields may add to one body's events, in all.
constexpr std::size_t kMaxEnvelopeGrowth = 64 << 20;

std::string malformed(std::size_t offset, std::string_view what) {
  return fmt::format("malformed JSON at byte {}: {}", offset, what);
}

// Walks the body's events and collects them, by partition, into an IngestBatch.
class BodyParser {
 public:
  BodyParser(od::parser& outer, od::parser& inner, std::string_view body, std::size_t capacity,
             const IngestContext& context)
      : outer_(outer), inner_(inner), body_(body), capacity_(capacity), context_(context) {
    // Records are the payload bytes plus about 60 bytes of envelope each; one event per 100
    // bytes of body is a generous guess that keeps the batches from regrowing for typical
    // events (spread evenly over the partitions).
    const std::size_t count = std::max<std::uint32_t>(context.stream.partitions, 1);
    const std::size_t estimate = body.size() + body.size() * 6 / 10 + 64;
    batch_.partitions.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
      batch_.partitions.emplace_back(estimate / count);
    reset_extras();
  }

  // An event's check, noting which of the added fields, and of the dropped ones, it has.
  EventCheck check(std::string_view span) {
    seen_.assign(watch_.size(), 0);
    return check_event(inner_, body_, capacity_, span, context_.format.fields,
                       watch_.empty() ? nullptr : &watch_, &seen_);
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
      auto check = this->check(line);
      if (check.outcome == EventCheck::Outcome::kSyntax) {
        reject(line, false, malformed(check.offset, check.error), kMalformed);
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
    od::array elements;
    if (auto e = doc.get_array().get(elements)) {
      return make_error(Errc::kInvalidInput,
                        malformed(location_offset(doc, body_, start), describe(e)));
    }
    if (auto error = this->elements(doc, elements, start)) return error;
    if (!at_end(doc)) {
      return make_error(Errc::kInvalidInput, malformed(location_offset(doc, body_, body_.size()),
                                                       "unexpected text after the array"));
    }
    return std::nullopt;
  }

  // The events of an array being read in `doc` (a body's own, or an envelope's).
  std::optional<Error> elements(od::document& doc, od::array& elements, std::size_t start) {
    auto syntax = [&](simdjson::error_code e) {
      return make_error(Errc::kInvalidInput,
                        malformed(location_offset(doc, body_, start), describe(e)));
    };
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
        reject(trim(raw), false, "an event must be a JSON object", kMalformed);
        continue;
      }
      od::object object;
      std::string_view element_span;
      if (auto e = value.get_object().get(object)) return syntax(e);
      if (auto e = object.raw_json().get(element_span)) return syntax(e);
      auto check = this->check(element_span);
      if (check.outcome == EventCheck::Outcome::kSyntax) {
        if (check.error != describe(simdjson::DEPTH_ERROR)) {
          return make_error(Errc::kInvalidInput, malformed(check.offset, check.error));
        }
        reject(element_span, false, check.error, kMalformed);  // too deep to embed: kept as text
        continue;
      }
      // An envelope's fields are repeated in every event: a small body must not become a huge
      // batch (a 500 KB field over 100 000 empty events would be 50 GB).
      grown_ += extras_bytes_;
      if (grown_ > kMaxEnvelopeGrowth) {
        return make_error(Errc::kTooLarge,
                          fmt::format("the envelope's fields ({} bytes) repeated in each of its "
                                      "events come to more than {} bytes; send fewer events per "
                                      "request or the fields in the events",
                                      extras_bytes_, kMaxEnvelopeGrowth));
      }
      event(element_span, check);
    }
    return std::nullopt;
  }

  // `{"events": [...], ...}`: true (with the events added) when `span` is such an envelope;
  // false when it is an ordinary event.
  Result<bool> envelope(std::string_view span) {
    const auto& names = context_.format.envelope_fields;
    const auto& dropped = context_.format.dropped;
    const auto start = static_cast<std::size_t>(span.data() - body_.data());
    od::document doc;
    if (outer_.iterate(span.data(), span.size(), capacity_ - start).get(doc)) return false;
    od::object object;
    if (doc.get_object().get(object)) return false;
    std::optional<std::string_view> events;
    std::string events_name;
    for (auto field : object) {
      std::string_view key;
      od::value value;
      od::json_type type;
      if (field.unescaped_key().get(key) || field.value().get(value) || value.type().get(type)) {
        return false;
      }
      std::string name(key);
      // The server's own fields win over the envelope's.
      const auto fixed_end = extra_names_.begin() + static_cast<std::ptrdiff_t>(fixed_);
      const bool server_field = std::find(extra_names_.begin(), fixed_end, name) != fixed_end;
      std::string_view raw;
      if (!events && type == od::json_type::array &&
          std::find(names.begin(), names.end(), name) != names.end()) {
        od::array elements;
        if (value.get_array().get(elements) || elements.raw_json().get(raw)) return false;
        events = raw;
        events_name = std::move(name);
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
      // Malformed, or a number too large for a double (read as infinity): the ordinary event
      // path reports it.
      if (ec || !finite_numbers(parsed)) return false;
      if (server_field || std::find(dropped.begin(), dropped.end(), name) != dropped.end()) {
        continue;
      }
      extras_.insert_or_assign(name, std::move(parsed));
      auto known = std::find(extra_names_.begin(), extra_names_.end(), name);
      // A token's raw text may end in the space after it.
      if (known != extra_names_.end()) {
        extra_texts_[static_cast<std::size_t>(known - extra_names_.begin())] = trim(raw);
      } else {
        extra_names_.push_back(std::move(name));
        extra_texts_.push_back(trim(raw));
      }
    }
    if (!events || !at_end(doc)) {  // not an envelope, or several objects (NDJSON)
      reset_extras();
      return false;
    }
    for (std::size_t i = defaults_end_; i < extra_names_.size(); ++i)
      extras_bytes_ += extra_names_[i].size() + extra_texts_[i].size() + 4;
    noted_extras();
    // The envelope is valid JSON: its events are read from the same document, from the start
    // again (its other fields may follow the array), without parsing the text once more.
    doc.rewind();
    if (doc.get_object().get(object)) return make_error(Errc::kInternal, "the envelope moved");
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return make_error(Errc::kInternal, "the envelope moved");
      if (key != events_name) continue;
      od::array elements;
      if (field.value().get_array().get(elements)) {
        return make_error(Errc::kInternal, "the envelope moved");
      }
      if (auto error = this->elements(doc, elements, start)) return std::move(*error);
      return true;
    }
    return make_error(Errc::kInternal, "the envelope moved");
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
      reject(span, false, malformed(check.offset, check.error), kMalformed);
      return;
    }
    if (check.outcome == EventCheck::Outcome::kRejected) {
      reject(span, !check.keep_as_text, std::move(check.error));
      return;
    }
    if (!context_.policy.rewrites(context_.form)) {
      // A server field the event carries itself is replaced, and a dropped one removed,
      // through the DOM; else the added fields go into the event's text.
      const auto server_end = seen_.begin() + static_cast<std::ptrdiff_t>(fixed_);
      const auto dropped_begin = seen_.begin() + static_cast<std::ptrdiff_t>(extra_names_.size());
      const bool rewrites = std::find(seen_.begin(), server_end, 1) != server_end ||
                            std::find(dropped_begin, seen_.end(), 1) != seen_.end();
      if (!rewrites) {
        if (extras_.empty()) {
          add(check);
        } else {
          spliced(span, check);
        }
        return;
      }
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(span, ec, {}, parse_options());
    if (ec || !parsed.is_object()) {
      reject(span, true, fmt::format("cannot read the event: {}", ec.message()), kMalformed);
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

  // The added fields back to the server's and the format's defaults: at the start, and after
  // an object that turned out not to be an envelope.
  void reset_extras() {
    extras_.clear();
    extra_names_.clear();
    extra_texts_.clear();
    extras_bytes_ = 0;
    // The server's fields lead the list of added fields and stay through every body.
    auto add_extra = [&](const ServerField& field) {
      boost::system::error_code ec;
      extras_.insert_or_assign(field.name, json::parse(field.json, ec));
      extra_names_.push_back(field.name);
      extra_texts_.push_back(field.json);
      extras_bytes_ += field.name.size() + field.json.size() + 4;
    };
    for (const auto& field : context_.server_fields)
      add_extra(field);
    fixed_ = extra_names_.size();
    for (const auto& field : context_.format.defaults) {
      if (std::find(extra_names_.begin(), extra_names_.end(), field.name) == extra_names_.end()) {
        add_extra(field);
      }
    }
    defaults_end_ = extra_names_.size();
    noted_extras();
  }

  // After the added fields changed: what the events are checked for, and whether the fields
  // are ones the stream reads (id, key, time, type), which may change what the check of an
  // event found: such events are checked again once the field is in.
  void noted_extras() {
    watch_ = extra_names_;
    watch_.insert(watch_.end(), context_.format.dropped.begin(), context_.format.dropped.end());
    all_fields_tail_.clear();
    rechecks_ = false;
    for (const auto& n : extra_names_)
      rechecks_ = rechecks_ || context_.format.fields.reads(n);
  }

  // An envelope's fields added to an event the stream has no rules for: written into the
  // event's own text (before its closing brace) rather than through a DOM, so the event keeps
  // its bytes and costs no parse or serialisation of its own. `seen_` says which of the fields
  // the event has already (check_event noted them).
  void spliced(std::string_view span, EventCheck& check) {
    const std::size_t close = span.rfind('}');
    const bool empty = span.find_first_not_of(" \t\r\n", 1) == close;
    const auto added_end = seen_.begin() + static_cast<std::ptrdiff_t>(extra_names_.size());
    std::string_view tail;
    if (std::find(seen_.begin(), added_end, 1) == added_end) {
      // Nearly every event has none of the fields: their text is made once per body.
      if (all_fields_tail_.empty()) {
        for (std::size_t i = 0; i < extra_names_.size(); ++i)
          append_field(all_fields_tail_, i);
        all_fields_tail_ += '}';
      }
      tail = all_fields_tail_;
    } else {
      event_tail_.clear();
      for (std::size_t i = 0; i < extra_names_.size(); ++i) {
        if (!seen_[i]) append_field(event_tail_, i);
      }
      event_tail_ += '}';
      tail = event_tail_;
    }
    if (empty && tail.front() == ',') tail.remove_prefix(1);  // `{}`: no comma before the first
    if (!rechecks_) {
      // The stream's fields are the event's own: what the check read stands. The record is
      // the event's text up to its closing brace, then the fields.
      check.event.payload = span.substr(0, close);
      add(check, tail);
      return;
    }
    std::string text(span.substr(0, close));
    text += tail;
    add_new_text(text, span, true);
  }

  // `,"name":value` of added field i.
  void append_field(std::string& out, std::size_t i) const {
    out += ',';
    append_json_string(out, extra_names_[i]);
    out += ':';
    out += extra_texts_[i];
  }

  // Checks an event's new text and stores it; a refusal keeps the original.
  void add_new_text(std::string& text, std::string_view original, bool original_is_json) {
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    auto check = check_event(inner_, text, text.capacity(), text, context_.format.fields);
    if (check.outcome != EventCheck::Outcome::kOk) {
      reject(original, original_is_json, std::move(check.error));
      return;
    }
    add(check);
  }

  // Applies the added fields and the stream's rules, then stores the new text.
  void rewritten(json::object event, std::string_view original, bool original_is_json) {
    for (std::size_t i = 0; i < extra_names_.size(); ++i) {
      const std::string& name = extra_names_[i];
      if (i < fixed_) {
        event.insert_or_assign(name, extras_.at(name));
      } else if (!event.contains(name)) {
        event.emplace(name, extras_.at(name));
      }
    }
    for (const auto& name : context_.format.dropped)
      event.erase(name);
    EventContext event_context{.client_ip = context_.client_ip, .form = context_.form};
    if (auto error = context_.policy.apply(event, event_context)) {
      if (context_.policy.has_privacy()) {
        // apply() has run the privacy rules on `event`: that is what the dead letters keep.
        reject(json::serialize(event), true, std::move(*error), false, true);
      } else {
        reject(original, original_is_json, std::move(*error));
      }
      return;
    }
    std::string text = json::serialize(event);
    add_new_text(text, original, original_is_json);
  }

  static constexpr bool kMalformed = true;

  static std::string describe_ahead(std::int64_t ms) {
    constexpr std::int64_t kDay = 86'400'000;
    if (ms >= 2 * kDay) return fmt::format("{} days", ms / kDay);
    return fmt::format("{} s", ms / 1000);
  }

  // `is_protected`: `text` has been through the stream's privacy rules already.
  void reject(std::string_view text, bool is_json, std::string error, bool malformed = false,
              bool is_protected = false) {
    Rejection rejection{.index = index_++, .error = std::move(error), .malformed = malformed};
    if (context_.keep_rejected) {
      rejection.event = is_protected
                            ? std::string(text)
                            : context_.policy.for_dead_letters(text, is_json, context_.client_ip);
      // Embedded as JSON, a \u0000 would make the dead letter unreadable to PostgreSQL's JSON
      // functions: such text is kept as a string.
      rejection.event_is_json = is_json && rejection.event.find("\\u0000") == std::string::npos;
    }
    batch_.rejected.push_back(std::move(rejection));
  }

  // `payload_tail`: the rest of the event's text after check.event.payload (the fields
  // spliced in).
  void add(EventCheck& check, std::string_view payload_tail = {}) {
    EventView& event = check.event;
    event.received_at_ms = context_.received_at_ms;
    if (!check.has_time) event.ts_ms = context_.received_at_ms;
    const auto& stream = context_.stream;
    if (event.ts_ms - context_.received_at_ms > stream.max_future.count()) {
      if (stream.future_time == "dead_letter") {
        reject(std::string(event.payload) + std::string(payload_tail), true,
               fmt::format("field \"{}\": the time is {} ahead of the server's clock; the "
                           "limit is {} s (streams.{}.max_future)",
                           context_.format.fields.time,
                           describe_ahead(event.ts_ms - context_.received_at_ms),
                           stream.max_future.count() / 1000, stream.name));
        return;
      }
      event.ts_ms = context_.received_at_ms;  // the payload keeps the time as sent
    }
    ++index_;
    UuidText generated;
    if (event.id.empty()) {
      generated = uuid_v7_text(context_.received_at_ms);
      event.id = std::string_view(generated.data(), generated.size());
    }
    const auto partitions = static_cast<std::uint32_t>(batch_.partitions.size());
    batch_.partitions[log::partition_for(event.key.value_or(event.id), partitions)].add(
        event, payload_tail);
  }

  od::parser& outer_;
  od::parser& inner_;
  std::string_view body_;
  std::size_t capacity_;
  const IngestContext& context_;
  std::size_t index_ = 0;
  IngestBatch batch_;
  json::object extras_;  // fields added to every event: the server's, the envelope's
  // The same fields as they were sent: names, and their JSON text. The first `fixed_` are the
  // server's (context_.server_fields), which replace the event's own.
  std::vector<std::string> extra_names_;
  std::vector<std::string_view> extra_texts_;
  std::size_t fixed_ = 0;
  std::size_t defaults_end_ = 0;    // the format's defaults follow the server's fields
  std::size_t extras_bytes_ = 0;    // what they add to an event, at most
  std::size_t grown_ = 0;           // what they added to this body's events
  bool rechecks_ = false;           // one of them is a field the stream reads
  std::vector<std::string> watch_;  // the added fields, then the dropped ones
  std::vector<char> seen_;          // of the event being read, which of watch_ it has (0, 1)
  std::string all_fields_tail_;     // `,"a":1,"b":2}`: every added field, made once
  std::string event_tail_;          // the added fields an event lacks, when it has some
};

// Whether a quoted envelope name ("events", "batch") occurs anywhere in the text: one pass
// over the quotes, since nearly every single event mentions neither.
bool mentions_envelope(std::string_view text, const std::vector<std::string>& names) {
  for (std::size_t quote = text.find('"'); quote != std::string_view::npos;
       quote = text.find('"', quote + 1)) {
    const std::string_view after = text.substr(quote + 1);
    for (const auto& name : names) {
      if (after.size() > name.size() && after[name.size()] == '"' && after.starts_with(name)) {
        return true;
      }
    }
  }
  return false;
}

std::string_view media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  return trim(content_type);
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
  if (mentions_envelope(object, context.format.envelope_fields)) {
    auto is_envelope = parser.envelope(object);
    if (!is_envelope) return is_envelope.error();
    if (is_envelope.value()) return parser.finish();
  }
  // One object, or several (NDJSON sent without its content type).
  auto check = parser.check(object);
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

std::string ingest_response_json(std::size_t accepted, const std::vector<Rejection>& rejected) {
  std::string out;
  out.reserve(64);
  out += "{\"accepted\":";
  out += std::to_string(accepted);
  out += ",\"rejected\":[";
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"index\":";
    out += std::to_string(rejected[i].index);
    out += ",\"error\":";
    append_json_string(out, rejected[i].error);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

}  // namespace sluice::collector
