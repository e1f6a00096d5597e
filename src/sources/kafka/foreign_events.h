#pragma once
// Events from records other services produce to a stream's Kafka topic (log.backend kafka): each
// record's value must be one JSON object, checked as the collector checks a posted event
// (check_event: valid JSON, at most 64 levels deep, the stream's id, key, time and type fields
// read from the top level) and put through the stream's sanitising, schema and privacy rules.
//
// Without an id field the id is the record's place, "<topic>-<partition>-<offset>", so every
// reader (the store, each pipeline) and every read again makes the same event of it. The event
// time is the time field, else the record's timestamp; received_at is the record's timestamp
// (else the time it was read). A time further ahead than streams.<name>.max_future is clamped.
// A record that is not such an object is skipped, counted and logged by the log.

#include <memory>

#include "config/config.h"
#include "log/foreign_record.h"

namespace sluice::sources {

// Fails only on a schema the config check would have refused.
Result<log::ForeignReader> foreign_reader(const StreamConfig& stream);

}  // namespace sluice::sources
