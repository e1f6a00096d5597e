#include "query/stats_query.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/json_text.h"
#include "core/time.h"
#include "store/rollup.h"

namespace sluice::query {
namespace {

constexpr const char* kValidParams = "stream, group_by, bucket, from, to, where, top, metric";
constexpr std::size_t kMaxGroupBy = 3;
constexpr std::size_t kMaxConditions = 8;
constexpr std::int64_t kMinuteMs = 60'000;

// A time bucket: whole multiples of `minutes`, or a cycle (hour of the day, day of the week).
struct Bucket {
  std::string name;
  std::int64_t minutes = 0;  // 0: no time buckets
  enum class Kind { kNone, kSpan, kHourOfDay, kDayOfWeek } kind = Kind::kNone;
};

std::optional<Bucket> bucket_named(std::string_view name) {
  static const std::vector<std::pair<std::string_view, std::int64_t>> kSpans = {
      {"minute", 1}, {"5m", 5}, {"15m", 15}, {"hour", 60}, {"day", 1440}};
  for (const auto& [n, minutes] : kSpans) {
    if (n == name) return Bucket{std::string(n), minutes, Bucket::Kind::kSpan};
  }
  if (name == "hour_of_day") return Bucket{"hour_of_day", 60, Bucket::Kind::kHourOfDay};
  if (name == "day_of_week") return Bucket{"day_of_week", 1440, Bucket::Kind::kDayOfWeek};
  return std::nullopt;
}

// The SQL of a row's bucket from its minute.
std::string bucket_sql(const Bucket& b) {
  switch (b.kind) {
    case Bucket::Kind::kNone:
      return "0";
    case Bucket::Kind::kSpan:
      return fmt::format("(minute / {0}) * {0}", b.minutes);
    case Bucket::Kind::kHourOfDay:
      return "(minute / 60) % 24";
    case Bucket::Kind::kDayOfWeek:
      return "(minute / 1440 + 4) % 7";  // 1970-01-01 was a Thursday; 0 is Sunday
  }
  return "0";
}

void append_bucket(std::string& out, const Bucket& b, std::int64_t value) {
  if (b.kind == Bucket::Kind::kSpan) {
    out += "\"" + format_iso8601_ms(value * kMinuteMs) + "\"";
  } else {
    out += std::to_string(value);
  }
}

struct Dimension {
  std::string name;    // as the client says it
  std::string column;  // type, d1, d2, d3
};

struct Condition {
  std::string column;
  bool equal = true;
  std::string json;  // the value as JSON text, as the rollups keep it
};

struct StatsRequest {
  std::string stream;
  std::vector<Dimension> group_by;
  Bucket bucket;
  std::optional<std::int64_t> from_ms, to_ms;
  std::vector<Condition> where;
  int top = 0;  // 0: every row
  bool lag = false;
};

// The JSON text of a where value, as json_quote wrote it into the rollups.
std::string json_of(std::string_view value) {
  std::int64_t whole = 0;
  double number = 0;
  const char* end = value.data() + value.size();
  if (auto r = std::from_chars(value.data(), end, whole); r.ec == std::errc() && r.ptr == end) {
    return std::string(value);
  }
  if (auto r = std::from_chars(value.data(), end, number); r.ec == std::errc() && r.ptr == end) {
    return std::string(value);
  }
  if (value == "true" || value == "false" || value == "null") return std::string(value);
  std::string out;
  append_json_string(out, value);
  return out;
}

Result<Dimension> dimension(std::string_view name, const std::string& stream,
                            const std::vector<std::string>& fields, const char* parameter) {
  if (name == "type") return Dimension{"type", "type"};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i] == name) return Dimension{fields[i], fmt::format("d{}", i + 1)};
  }
  return make_error(Errc::kInvalidInput,
                    fmt::format("parameter \"{}\": stream \"{}\" has no statistics by \"{}\"; it "
                                "counts by type{}{} (add fields to streams.{}.stats_fields, at "
                                "most 3)",
                                parameter, stream, name, fields.empty() ? "" : ", ",
                                fmt::join(fields, ", "), stream));
}

Result<StatsRequest> parse(const std::map<std::string, std::vector<std::string>>& stats_fields,
                           const Params& params) {
  StatsRequest r;
  for (const auto& [name, value] : params) {
    if (name == "stream") r.stream = value;
  }
  if (r.stream.empty()) return make_error(Errc::kInvalidInput, "parameter \"stream\" is required");
  const auto found = stats_fields.find(r.stream);
  if (found == stats_fields.end()) {
    return make_error(Errc::kNotFound, fmt::format("unknown stream \"{}\"", r.stream));
  }
  const auto& fields = found->second;
  for (const auto& [name, value] : params) {
    if (name == "stream") continue;
    if (name == "group_by") {
      std::size_t start = 0;
      for (;;) {
        const auto comma = value.find(',', start);
        const std::string_view part = std::string_view(value).substr(start, comma - start);
        auto d = dimension(part, r.stream, fields, "group_by");
        if (!d) return d.error();
        if (std::any_of(r.group_by.begin(), r.group_by.end(),
                        [&](const Dimension& g) { return g.name == d.value().name; })) {
          return make_error(Errc::kInvalidInput,
                            fmt::format("parameter \"group_by\": \"{}\" is given twice", part));
        }
        r.group_by.push_back(std::move(d.value()));
        if (r.group_by.size() > kMaxGroupBy) {
          return make_error(Errc::kInvalidInput,
                            fmt::format("parameter \"group_by\": at most {} fields (with bucket "
                                        "for time)",
                                        kMaxGroupBy));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (name == "bucket") {
      auto b = bucket_named(value);
      if (!b) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("parameter \"bucket\": \"{}\" is not a bucket; use minute, "
                                      "5m, 15m, hour, day, hour_of_day or day_of_week",
                                      value));
      }
      r.bucket = *b;
    } else if (name == "from" || name == "to") {
      auto ms = time_param(name, value);
      if (!ms) return ms.error();
      (name == "from" ? r.from_ms : r.to_ms) = ms.value();
    } else if (name == "where") {
      const auto first = value.find(':');
      const auto second = first == std::string::npos ? first : value.find(':', first + 1);
      const std::string_view op = second == std::string::npos ? std::string_view()
                                                              : std::string_view(value).substr(
                                                                    first + 1, second - first - 1);
      if (second == std::string::npos || (op != "eq" && op != "ne")) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("parameter \"where\": \"{}\" is not field:eq:value or "
                                      "field:ne:value",
                                      value));
      }
      auto d = dimension(std::string_view(value).substr(0, first), r.stream, fields, "where");
      if (!d) return d.error();
      if (r.where.size() == kMaxConditions) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("at most {} where conditions", kMaxConditions));
      }
      r.where.push_back({d.value().column, op == "eq", json_of(value.substr(second + 1))});
    } else if (name == "top") {
      auto top = limit_param(value);
      if (!top) {
        return make_error(
            Errc::kInvalidInput,
            fmt::format("parameter \"top\" must be an integer from 1 to {}", kMaxLimit));
      }
      r.top = top.value();
    } else if (name == "metric") {
      if (value != "count" && value != "lag") {
        return make_error(Errc::kInvalidInput, "parameter \"metric\" must be count or lag");
      }
      r.lag = value == "lag";
    } else {
      return make_error(Errc::kInvalidInput, fmt::format("unknown parameter \"{}\"; valid "
                                                         "parameters: {}",
                                                         name, kValidParams));
    }
  }
  if (r.lag && (!r.group_by.empty() || !r.where.empty() || r.top)) {
    return make_error(Errc::kInvalidInput,
                      "metric=lag is by stream and time bucket only (no group_by, where or top)");
  }
  return r;
}

// Whole minutes covering [from, to).
std::int64_t floor_minute(std::int64_t ms) {
  return ms >= 0 ? ms / kMinuteMs : -((-ms + kMinuteMs - 1) / kMinuteMs);
}

std::string head_json(const StatsRequest& r) {
  std::string out = "{\"stream\":";
  append_json_string(out, r.stream);
  out += fmt::format(",\"metric\":\"{}\",\"group_by\":[", r.lag ? "lag" : "count");
  for (std::size_t i = 0; i < r.group_by.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, r.group_by[i].name);
  }
  out += "],\"bucket\":";
  if (r.bucket.kind == Bucket::Kind::kNone) {
    out += "null";
  } else {
    append_json_string(out, r.bucket.name);
  }
  auto time = [&](const std::optional<std::int64_t>& ms) {
    return ms ? "\"" + format_iso8601_ms(*ms) + "\"" : std::string("null");
  };
  out += ",\"from\":" + time(r.from_ms) + ",\"to\":" + time(r.to_ms);
  return out;
}

// Whole minutes covering [from, to); open ends are far away.
struct MinuteRange {
  std::int64_t from, to;
};
// Minutes beyond any event time, a whole number of hours (the rounding below relies on it).
constexpr std::int64_t kFar = std::int64_t{60} << 34;

MinuteRange minutes_of(const StatsRequest& r) {
  return {r.from_ms ? floor_minute(*r.from_ms) : -kFar,
          r.to_ms ? floor_minute(*r.to_ms + kMinuteMs - 1) : kFar};
}

// Where the counts come from: whole hours from the hourly rollups and the minutes at either end
// from the minute rollups, or minutes only when the buckets are finer than an hour. Empty
// segments are left out (a range with an OR would make SQLite scan the whole table).
struct Segment {
  bool hourly;
  MinuteRange minutes;
};

std::vector<Segment> segments_of(const StatsRequest& r) {
  const MinuteRange all = minutes_of(r);
  const bool coarse = r.bucket.kind != Bucket::Kind::kSpan || r.bucket.minutes >= 60;
  const std::int64_t h1 = (all.from + 59 + kFar) / 60 * 60 - kFar;  // up to a whole hour
  const std::int64_t h2 = (all.to + kFar) / 60 * 60 - kFar;         // down to a whole hour
  if (!coarse || h1 >= h2) return {{false, all}};
  std::vector<Segment> out;
  if (all.from < h1) out.push_back({false, {all.from, h1}});
  out.push_back({true, {h1, h2}});
  if (h2 < all.to) out.push_back({false, {h2, all.to}});
  return out;
}

// One SELECT per segment, UNION ALL, for the caller's GROUP BY to sum.
void append_union(Sql& sql, const StatsRequest& r, const std::vector<Segment>& segments,
                  const std::string& columns, const char* minutes_table, const char* hours_table) {
  for (std::size_t k = 0; k < segments.size(); ++k) {
    if (k) sql += " UNION ALL ";
    sql += fmt::format("SELECT {} FROM {} WHERE stream = ", columns,
                       segments[k].hourly ? hours_table : minutes_table);
    sql.bind(r.stream);
    sql += " AND minute >= " + sql.param(segments[k].minutes.from);
    sql += " AND minute < " + sql.param(segments[k].minutes.to);
    for (const auto& c : r.where) {
      sql += fmt::format(" AND {} {} ", c.column, c.equal ? "=" : "<>");
      sql.bind(c.json);
    }
  }
}

Result<std::string> counts(StoreReader& reader, const StatsRequest& r) {
  const auto sources = segments_of(r);
  std::string dims;
  for (const auto& d : r.group_by)
    dims += ", " + d.column;
  Sql total_sql = reader.sql();
  total_sql += "SELECT coalesce(sum(count), 0) FROM (";
  append_union(total_sql, r, sources, "count", "rollup_counts", "rollup_counts_hourly");
  total_sql += ") AS r";
  std::int64_t total = 0;
  auto summed = reader.query(total_sql, [&](const Row& row) {
    total = row.integer(0);
    return false;
  });
  if (!summed) return summed.error();

  Sql sql = reader.sql();
  sql += "SELECT b" + dims + ", sum(count) AS n FROM (";
  append_union(sql, r, sources, bucket_sql(r.bucket) + " AS b" + dims + ", count", "rollup_counts",
               "rollup_counts_hourly");
  sql += ") AS r GROUP BY b" + dims;
  sql += r.top ? " ORDER BY n DESC, b" + dims + " LIMIT " + std::to_string(r.top)
               : " ORDER BY b, n DESC" + dims + " LIMIT " + std::to_string(kMaxStatsRows + 1);
  std::string out = head_json(r) + fmt::format(",\"total\":{},\"groups\":[", total);
  int rows = 0;
  auto read = reader.query(sql, [&](const Row& row) {
    if (++rows > kMaxStatsRows) return false;
    if (rows > 1) out += ',';
    out += '{';
    if (r.bucket.kind != Bucket::Kind::kNone) {
      out += "\"bucket\":";
      append_bucket(out, r.bucket, row.integer(0));
      out += ',';
    }
    for (std::size_t i = 0; i < r.group_by.size(); ++i) {
      append_json_string(out, r.group_by[i].name);
      out += ':';
      out += row.text(static_cast<int>(1 + i));  // JSON text already
      out += ',';
    }
    out += fmt::format("\"count\":{}}}", row.integer(static_cast<int>(1 + r.group_by.size())));
    return true;
  });
  if (!read) return read.error();
  if (rows > kMaxStatsRows) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("more than {} groups: narrow from/to, take a coarser bucket or "
                                  "ask for the top ones (top=)",
                                  kMaxStatsRows));
  }
  return out + "]}";
}

// p50/p95/p99 of one bucket's lag spread: the first lag bucket whose cumulative count reaches
// the rank.
void append_percentiles(std::string& out, const std::vector<std::pair<int, std::int64_t>>& spread) {
  std::int64_t total = 0;
  for (const auto& [bucket, n] : spread)
    total += n;
  out += fmt::format("\"count\":{},\"lag_ms\":{{", total);
  const std::array<std::pair<const char*, double>, 3> kQuantiles = {
      {{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}}};
  for (std::size_t q = 0; q < kQuantiles.size(); ++q) {
    const auto rank = static_cast<std::int64_t>(std::ceil(kQuantiles[q].second * total));
    std::int64_t seen = 0;
    int at = 0;
    for (const auto& [bucket, n] : spread) {
      seen += n;
      at = bucket;
      if (seen >= rank) break;
    }
    out +=
        fmt::format("{}\"{}\":{:.0f}", q ? "," : "", kQuantiles[q].first, store::lag_bucket_ms(at));
  }
  out += "}}";
}

Result<std::string> lag(StoreReader& reader, const StatsRequest& r) {
  const auto sources = segments_of(r);
  Sql sql = reader.sql();
  sql += "SELECT b, bucket, sum(count) FROM (";
  append_union(sql, r, sources, bucket_sql(r.bucket) + " AS b, bucket, count", "rollup_lag",
               "rollup_lag_hourly");
  sql += ") AS r GROUP BY b, bucket ORDER BY b, bucket";
  std::string out = head_json(r) + ",\"groups\":[";
  std::vector<std::pair<int, std::int64_t>> spread;
  std::optional<std::int64_t> current;
  int groups = 0;
  auto flush = [&] {
    if (!current) return;
    if (groups++) out += ',';
    out += '{';
    if (r.bucket.kind != Bucket::Kind::kNone) {
      out += "\"bucket\":";
      append_bucket(out, r.bucket, *current);
      out += ',';
    }
    append_percentiles(out, spread);
    spread.clear();
  };
  auto read = reader.query(sql, [&](const Row& row) {
    const std::int64_t b = row.integer(0);
    if (current && *current != b) flush();
    current = b;
    spread.emplace_back(static_cast<int>(row.integer(1)), row.integer(2));
    return groups <= kMaxStatsRows;
  });
  if (!read) return read.error();
  if (groups > kMaxStatsRows) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("more than {} buckets: narrow from/to or take a coarser bucket",
                                  kMaxStatsRows));
  }
  flush();
  return out + "]}";
}

}  // namespace

Result<std::string> query_stats(StoreReader& reader,
                                const std::map<std::string, std::vector<std::string>>& stats_fields,
                                const Params& params) {
  auto parsed = parse(stats_fields, params);
  if (!parsed) return parsed.error();
  return parsed.value().lag ? lag(reader, parsed.value()) : counts(reader, parsed.value());
}

}  // namespace sluice::query
