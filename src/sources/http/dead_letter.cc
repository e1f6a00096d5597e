#include "sources/http/dead_letter.h"

#include <fmt/format.h>

#include "core/json_text.h"
#include "core/time.h"
#include "core/uuid.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

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

}  // namespace sluice::collector
