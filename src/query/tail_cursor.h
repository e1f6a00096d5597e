#pragma once
// GET /v1/tail: follows streams in the log from their end as the tail began, and turns new
// events (those the filter keeps) into Server-Sent Events, one `event: event` each with the
// event as GET /v1/events shows it and an `id:` of stream/partition/offset.
//
// Reading the log is all this does: a tail never slows ingest, whatever the client's pace; the
// server drops a client that falls too far behind (lag()). Used from one thread at a time.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "expr/expression.h"
#include "log/log.h"
#include "query/events_query.h"

namespace sluice::query {

class TailCursor {
 public:
  // Parameters: stream (one or more; required), filter (an expression over the payload, as in
  // pipelines), heartbeat (seconds between keep-alive comments, 1..300, default 15).
  static Result<TailCursor> open(log::Log& log, const std::vector<std::string>& known_streams,
                                 const Params& params);

  // The SSE text of up to `max_events` new events (kept by the filter) of every partition;
  // empty when nothing new arrived. `read` is how many events it read, kept or not.
  Result<std::string> next(std::size_t max_events, std::size_t& read);
  // Events in the log past this cursor.
  std::uint64_t lag() const;
  std::chrono::seconds heartbeat() const { return heartbeat_; }
  const std::vector<std::string>& streams() const { return streams_; }

 private:
  TailCursor(log::Log& log) : log_(&log) {}

  log::Log* log_;
  std::vector<std::string> streams_;
  std::map<log::Partition, log::Offset> positions_;
  std::optional<expr::Expression> filter_;
  std::chrono::seconds heartbeat_{15};
};

}  // namespace sluice::query
