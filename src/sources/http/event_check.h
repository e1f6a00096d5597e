#pragma once
// Checking one event's JSON text with simdjson on-demand: every token is visited (so the text
// is known to be valid JSON, nested at most kMaxJsonDepth deep) and the stream's id, key, time
// and type fields are read from its top level. No DOM is built; the event's views point into
// the text or the parser's buffer. Used by ingest.cc for every shape of body.

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/event.h"

namespace sluice::collector {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxIdBytes = 256;
inline constexpr std::size_t kMaxKeyBytes = 1024;
inline constexpr std::size_t kMaxTypeBytes = 256;

namespace od = simdjson::ondemand;

// What checking one event produced.
struct EventCheck {
  enum class Outcome { kOk, kRejected, kSyntax } outcome = Outcome::kOk;
  std::string error;          // kRejected / kSyntax
  std::size_t offset = 0;     // kSyntax: byte offset in the body
  bool trailing = false;      // kSyntax: valid JSON followed by more text
  EventView event;            // kOk: strings point into the body or the parser's buffer
  bool has_time = false;      // kOk: event.ts_ms came from the event's time field
  bool keep_as_text = false;  // kRejected: holds what readers cannot take back as JSON (a
                              // number too large for a double, a NUL): kept as text
};

// The top-level fields an event's id, key, time and type are read from: the stream's settings,
// or the names a client's own format uses (an analytics SDK's). Empty: not read.
struct EventFields {
  std::string id;
  std::string key;
  std::string time;
  std::string type;
  std::string type_fallback;  // the type when the event has no `type` field

  static EventFields of(const StreamConfig& stream) {
    return {.id = stream.id_field,
            .key = stream.key_field,
            .time = stream.time_field,
            .type = stream.type_field,
            .type_fallback = {}};
  }
  bool reads(std::string_view name) const {
    return name == id || name == key || name == time || name == type || name == type_fallback;
  }
};

// Checks one event whose text is `span`, a view into `body`, whose buffer (`capacity` bytes
// from body.data()) has simdjson's padding after the text.
// `watch`, `seen`: which of these names the event has at its top level (seen[i] for watch[i]).
EventCheck check_event(od::parser& parser, std::string_view body, std::size_t capacity,
                       std::string_view span, const EventFields& fields,
                       const std::vector<std::string>* watch = nullptr,
                       std::vector<char>* seen = nullptr);

// What a walk found that is valid JSON but cannot be kept.
struct WalkFindings {
  // A number too large for a double: read downstream it would become infinity, which JSON
  // cannot write. The first one's text.
  std::string_view too_large;
  // A string or a name holding U+0000 (`\u0000`): no SQL text column can hold it, and
  // PostgreSQL refuses it in json it reads.
  bool nul = false;
  // Whether a string may hold one at all: false when the text has no `\u0000` (a raw NUL is
  // a control character, which JSON refuses), so no string needs looking through.
  bool nul_possible = true;
};

// Walks a value completely so every token is checked; `depth` is the value's nesting level.
// Integers beyond 64 bits are valid JSON and pass. What cannot be kept is not a syntax error:
// it goes to `found` and the walk goes on.
simdjson::error_code walk(od::value value, int depth, WalkFindings& found);
// The same, for a value that is refused anyway: only its syntax matters.
simdjson::error_code walk(od::value value, int depth);

// The rejection of an event whose field `field` holds the number `number`, too large to keep.
std::string too_large_message(std::string_view field, std::string_view number);
// The rejection of an event whose field `field` holds a NUL character.
std::string nul_message(std::string_view field);

// What a simdjson error means, in words for the client.
std::string describe(simdjson::error_code e);

// True once every token of the document has been consumed.
bool at_end(od::document& doc);

// The byte offset in `body` the document has reached, or `fallback`.
std::size_t location_offset(od::document& doc, std::string_view body, std::size_t fallback);

std::size_t skip_space(std::string_view s, std::size_t pos);
std::string_view trim(std::string_view s);

}  // namespace sluice::collector
