#include "pipeline/event_json.h"

#include "core/json_text.h"
#include "core/time.h"

namespace sluice::pipeline {
namespace {

void append_optional(std::string& out, const std::optional<std::string_view>& text) {
  if (text) {
    append_json_string(out, *text);
  } else {
    out += "null";
  }
}

}  // namespace

void append_event_json(std::string& out, const SinkRecord& record) {
  const EventView& e = record.event;
  out += "{\"id\":";
  append_json_string(out, e.id);
  out += ",\"stream\":";
  append_json_string(out, record.stream);
  out += ",\"ts\":\"";
  out += format_iso8601_ms(e.ts_ms);
  out += "\",\"received_at\":\"";
  out += format_iso8601_ms(e.received_at_ms);
  out += "\",\"key\":";
  append_optional(out, e.key);
  out += ",\"type\":";
  append_optional(out, e.type);
  out += ",\"payload\":";
  out += e.payload;  // valid JSON: checked by the collector or written by a step
  out += '}';
}

}  // namespace sluice::pipeline
