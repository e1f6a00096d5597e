#pragma once
// GET /v1/events: filtering, ordering and keyset pagination over the stored events.
//
// Parameters (all optional): stream, type, key, where (field:op:value, up to 8), fields (the
// payload fields to keep), from (inclusive), to (exclusive) — ISO-8601 or epoch ms/s —, order
// (desc, the default, newest first; or asc), limit (1..1000, default 100), cursor (the
// next_cursor of the previous page). Every value is bound as a SQL parameter.
// Pages are keyed on (ts, seq), so a page costs the same at any depth and events stored while
// paging never shift or repeat earlier pages.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "query/store_reader.h"

namespace sluice::query {

inline constexpr int kDefaultLimit = 100;
inline constexpr int kMaxLimit = 1000;

using Params = std::vector<std::pair<std::string, std::string>>;

// Query parameters shared by the read endpoints, with the error a client sees.
// A time: ISO-8601 or an epoch number.
Result<std::int64_t> time_param(const std::string& name, const std::string& value);
// limit: 1..kMaxLimit.
Result<int> limit_param(const std::string& value);

// Returns the response body: {"events":[...],"next_cursor":"..."|null}.
Result<std::string> query_events(StoreReader& reader, const Params& params);

// GET /v1/dead-letters and GET /v1/alerts: GET /v1/events over a set of streams (all of them
// unless `stream=` picks one), with shortcuts for payload fields: `source=orders` is
// `where=stream:eq:orders`.
struct StreamView {
  std::vector<std::string> streams;
  std::vector<std::pair<std::string, std::string>> shortcuts;  // parameter -> payload field
};
Result<std::string> query_view(StoreReader& reader, const StreamView& view, const Params& params);

// GET /v1/events/{id}: the event (the first stored, when streams share an id and no `stream`
// parameter says which), or kNotFound. Parameters: stream, fields. Without `stream` the lookup
// is one per stream of `streams` (the configured ones), each through the (stream, id) index:
// an id alone has no index, and a scan of every event per request is what a stranger could
// loop on.
Result<std::string> query_event(StoreReader& reader, const std::string& id, const Params& params,
                                const std::vector<std::string>& streams);

}  // namespace sluice::query
