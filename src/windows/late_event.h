#pragma once
// What a window definition writes to its `late` stream for an event that came after its window
// closed: {"window":…,"error":…,"offset":…,"event":{the event as pipelines see it}}, with an id
// made from where the event sits in the log, so the same event late again in a replay is the
// same id (which the store keeps once).

#include <string>
#include <string_view>

#include "core/event.h"
#include "log/log.h"

namespace sluice::windows {

struct LateEvent {
  std::string id;
  std::string payload;
};

// `event`: the envelope as read, its payload as the window saw it.
LateEvent late_event(std::string_view window, const log::Partition& partition, log::Offset offset,
                     const EventView& event, std::string_view reason);

}  // namespace sluice::windows
