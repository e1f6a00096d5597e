#pragma once
// GET /v1/streams: each configured stream with what the log holds, what the store has taken,
// what this process's collector received, accepted and rejected since it started, the rate of
// the last minute and the newest stored event.

#include <functional>
#include <string>

#include "config/config.h"
#include "core/result.h"
#include "log/log.h"
#include "query/events_query.h"

namespace sluice {
class Processor;
}

namespace sluice::query {

struct StreamsSources {
  const Config& config;
  const log::Log& log;
  // What the collector counted for a stream: appends `"accepted_per_second":…,
  // "since_start":…` to the stream's object.
  std::function<void(std::string& out, const std::string& stream)> intake;
  const Processor* store = nullptr;  // null in the collector role
  StoreReader* reader = nullptr;     // null in the collector role
};

// {"streams":[{"name":…,"partitions":…,"in_log":…,"stored":…,"accepted_per_second":…,
//   "since_start":{…},"newest_event":{…}|null}]}. Parameter: stream (one stream only).
Result<std::string> query_streams(const StreamsSources& sources, const Params& params);

}  // namespace sluice::query
