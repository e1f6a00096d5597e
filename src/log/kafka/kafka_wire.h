#pragma once
// How events sit in Kafka records (docs/specs/kafka_records.md), so any Kafka consumer can read
// them. Format 2, written since this version:
//   value     the event's JSON text as received
//   key       its partition key: the key field, else the id
//   timestamp its event time
//   headers   sluice-format "2", sluice-id, sluice-stream, sluice-ts and sluice-received-at
//             (RFC 3339, UTC, milliseconds), sluice-key and sluice-type when the event has them
// Format 1, written by earlier versions: no headers, value = the binary record (core/event.h);
// still read. A record with neither is another producer's (foreign_record.h).

#include <librdkafka/rdkafka.h>

#include <string>
#include <string_view>

#include "core/event.h"

namespace sluice::log::kafka_wire {

inline constexpr const char* kFormatHeader = "sluice-format";
inline constexpr std::string_view kFormat = "2";

// The headers of `event` in `stream`. rd_kafka_producev takes them over on success.
rd_kafka_headers_t* headers_for(const EventView& event, std::string_view stream);

enum class Kind {
  kEvent,    // format 2 or 1: its binary record was appended to `out`
  kForeign,  // no format header and not a format 1 record: another producer's
  kBroken,   // says it is format 2 but its headers are missing or malformed
};

// Reads one consumed record; for kEvent appends its binary record (core/event.h) to `out`.
Kind decode(const rd_kafka_message_t& message, std::string& out);

}  // namespace sluice::log::kafka_wire
