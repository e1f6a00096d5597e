#include "log/kafka/kafka_wire.h"

#include <optional>

#include "core/time.h"

namespace sluice::log::kafka_wire {
namespace {

constexpr const char* kId = "sluice-id";
constexpr const char* kStream = "sluice-stream";
constexpr const char* kTs = "sluice-ts";
constexpr const char* kReceivedAt = "sluice-received-at";
constexpr const char* kKey = "sluice-key";
constexpr const char* kType = "sluice-type";

void add(rd_kafka_headers_t* headers, const char* name, std::string_view value) {
  rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
}

// The last header called `name`, or nullopt.
std::optional<std::string_view> header(rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  if (value == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(value), size);
}

// An envelope string a record can hold (core/event.h).
bool fits(const std::optional<std::string_view>& text) {
  return !text || text->size() <= kMaxEnvelopeField;
}

}  // namespace

rd_kafka_headers_t* headers_for(const EventView& event, std::string_view stream) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(7);
  add(headers, kFormatHeader, kFormat);
  add(headers, kId, event.id);
  add(headers, kStream, stream);
  add(headers, kTs, format_iso8601_ms(event.ts_ms));
  add(headers, kReceivedAt, format_iso8601_ms(event.received_at_ms));
  if (event.key) add(headers, kKey, *event.key);
  if (event.type) add(headers, kType, *event.type);
  return headers;
}

Kind decode(const rd_kafka_message_t& message, std::string& out) {
  const std::string_view value(static_cast<const char*>(message.payload),
                               message.payload ? message.len : 0);
  rd_kafka_headers_t* headers = nullptr;
  // The headers stay owned by the message.
  if (rd_kafka_message_headers(&message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    headers = nullptr;
  }
  const auto format = headers ? header(headers, kFormatHeader) : std::nullopt;
  if (!format) {
    // Format 1: the binary record itself. JSON text never begins with its version byte.
    if (!value.empty() && value.front() == static_cast<char>(kRecordVersion) &&
        decode_event(value)) {
      out.append(value);
      return Kind::kEvent;
    }
    return Kind::kForeign;
  }
  if (*format != kFormat) return Kind::kBroken;
  const auto id = header(headers, kId);
  const auto ts = header(headers, kTs);
  const auto received_at = header(headers, kReceivedAt);
  if (!id || id->empty() || !ts || !received_at) return Kind::kBroken;
  const auto ts_ms = parse_iso8601_ms(*ts);
  const auto received_at_ms = parse_iso8601_ms(*received_at);
  EventView event{
      .id = *id, .key = header(headers, kKey), .type = header(headers, kType), .payload = value};
  // The value is trusted to be the JSON object Sluice wrote; only its frame is checked here.
  const bool object = value.size() >= 2 && value.front() == '{' && value.back() == '}';
  if (!ts_ms || !received_at_ms || !fits(event.id) || !fits(event.key) || !fits(event.type) ||
      !object || value.size() > UINT32_MAX) {
    return Kind::kBroken;
  }
  event.ts_ms = *ts_ms;
  event.received_at_ms = *received_at_ms;
  encode_event(event, out);
  return Kind::kEvent;
}

}  // namespace sluice::log::kafka_wire
