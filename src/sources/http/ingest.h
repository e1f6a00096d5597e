#pragma once
// Turning a POSTed body into log records: the collector's per-event hot path.
//
// Accepted shapes: one JSON object; a JSON array of objects; NDJSON (one object per line,
// also recognised without its content type when a body holds several objects); a batch
// envelope (`{"events":[...], "app":"x"}`: the array's elements are the events and the other
// fields are added to each, the event's own fields winning); an HTML form
// (application/x-www-form-urlencoded, one event).
//
// Events are validated as JSON with simdjson on-demand (no DOM is built), the stream's id, key,
// time and type fields are read from their top level, and their original bytes become the
// payload. Only when the stream has rules to apply (schema, sanitisation, privacy) or an
// envelope adds fields is an event parsed into a DOM and written anew.
//
// A syntax error in a JSON document or array rejects the whole request (kInvalidInput, with the
// byte offset). An NDJSON line, array element or envelope element that is unusable (not an
// object, malformed line, nested too deep, a bad time value, an id over its limit, failing the
// schema) is rejected alone and listed with its index; the other events go on.
// Thread-safe: each thread uses its own parsers.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "log/log.h"
#include "sources/http/event_check.h"
#include "sources/http/stream_policy.h"

namespace sluice::collector {

enum class BodyKind { kJson, kNdjson, kForm };

// Spare capacity parse_body needs after a body's text (simdjson reads ahead of the text); a
// body read into a buffer with this much room is parsed where it is instead of copied.
inline constexpr std::size_t kBodyPadding = simdjson::SIMDJSON_PADDING;

// The kind of body a Content-Type announces. JSON labelled as a form (what `curl -d` sends) is
// read as JSON. Other types are kUnsupported (415), with the accepted ones named.
Result<BodyKind> body_kind(std::string_view content_type, std::string_view body);

// A field the server sets on every event of a request (the id cookie's id, the bot marker):
// its name and JSON text. It replaces a value the event or its envelope carries.
struct ServerField {
  std::string name;
  std::string json;
};

// How a path's bodies are read: the stream's own settings, or a client's format (an analytics
// SDK's field names, its batch field, the fields it sends that are not kept).
struct BodyFormat {
  EventFields fields;
  std::vector<std::string> envelope_fields;  // an object with one of these arrays is a batch
  std::vector<std::string> dropped;          // not kept, from the envelope or the events
  std::vector<ServerField> defaults;         // added to events that lack them

  static BodyFormat of(const StreamConfig& stream) {
    return {.fields = EventFields::of(stream),
            .envelope_fields = stream.envelope_fields,
            .dropped = {},
            .defaults = {}};
  }
};

struct IngestContext {
  const StreamConfig& stream;
  const StreamPolicy& policy;
  const BodyFormat& format;
  std::int64_t received_at_ms = 0;
  std::string_view client_ip;
  std::vector<ServerField> server_fields;
  bool form = false;           // posted to a form endpoint: text fields are always cleaned
  bool keep_rejected = false;  // copy rejected events for the dead-letter stream
};

struct Rejection {
  std::size_t index;
  std::string error;
  std::string event;           // the rejected text, when kept
  bool event_is_json = false;  // `event` is a JSON value (not a malformed line)
  bool malformed = false;      // not JSON, not an object, too deep (else: broke a rule)
};

struct IngestBatch {
  std::vector<log::RecordBatch> partitions;  // the accepted events, by partition of the stream
  std::vector<Rejection> rejected;

  std::size_t accepted() const {
    std::size_t count = 0;
    for (const auto& records : partitions)
      count += records.count();
    return count;
  }
};

// `body` may be grown (capacity only) to give the parser its padding.
Result<IngestBatch> parse_body(std::string& body, BodyKind kind, const IngestContext& context);

// {"accepted":N,"rejected":[{"index":i,"error":"..."}]}
std::string ingest_response_json(std::size_t accepted, const std::vector<Rejection>& rejected);

}  // namespace sluice::collector
