#pragma once
// GET /v1/stats: counts of a stream's events over a time range, grouped by up to 3 of its type
// and stats_fields and/or time buckets, optionally only the top N; or the spread of their
// processing lag (received_at - ts, p50/p95/p99). Answered from the per-minute rollups the store
// keeps as events arrive (store/sqlite_store.h), so the cost depends on the minutes and
// groups asked for, not on the number of events.
//
// Parameters: stream (required), group_by (comma-separated: type and the stream's
// stats_fields), bucket (minute, 5m, 15m, hour, day, hour_of_day, day_of_week), from, to (event
// time, whole minutes), where (field:eq|ne:value on the groupable fields, up to 8), top (1..1000:
// the rows with the highest counts), metric (count, the default, or lag).

#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "query/events_query.h"
#include "query/store_reader.h"

namespace sluice::query {

inline constexpr int kMaxStatsRows = 10000;

// `stats_fields`: per stream, the payload fields its rollups count by.
Result<std::string> query_stats(StoreReader& reader,
                                const std::map<std::string, std::vector<std::string>>& stats_fields,
                                const Params& params);

}  // namespace sluice::query
