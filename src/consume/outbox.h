#pragma once
// Events a stream job makes (late events, alerts) on their way to their streams. The outbox owns
// them until the log has them, so an append that fails is tried again with the same events. It
// can be saved with a checkpoint (as JSON) so that events decided before a crash are sent on the
// next start; ids are stable, and the store keeps each id once.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/stream_settings.h"
#include "core/event.h"
#include "core/result.h"
#include "log/log.h"

namespace sluice::consume {

class Outbox {
 public:
  void add(const StreamConfig& stream, const EventView& event);
  std::size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }

  // Appends every event to its stream (partitioned by id) and waits for the log; emptied on
  // success, kept for the next attempt on failure.
  Result<void> send(log::Log& log);

  std::string to_json() const;
  static Result<Outbox> from_json(std::string_view text);

 private:
  struct Pending {
    std::string stream;
    std::uint32_t partitions = 1;
    std::string id;
    std::int64_t ts_ms = 0;
    std::int64_t received_at_ms = 0;
    std::string type;
    std::string payload;
  };
  std::vector<Pending> events_;
};

}  // namespace sluice::consume
