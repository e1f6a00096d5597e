#include "windows/late_event.h"

#include <fmt/format.h>

#include "core/json_text.h"
#include "pipeline/event_json.h"

namespace sluice::windows {

LateEvent late_event(std::string_view window, const log::Partition& partition, log::Offset offset,
                     const EventView& event, std::string_view reason) {
  LateEvent late;
  late.payload = "{\"window\":";
  append_json_string(late.payload, window);
  late.payload += ",\"error\":";
  append_json_string(late.payload, reason);
  late.payload += fmt::format(",\"offset\":{},\"event\":", offset);
  pipeline::append_event_json(
      late.payload, pipeline::SinkRecord{partition.stream, partition.index, offset, event});
  late.payload += '}';
  late.id = fmt::format("late:{}:{}/{}:{}", window, partition.stream, partition.index, offset);
  return late;
}

}  // namespace sluice::windows
