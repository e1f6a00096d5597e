#pragma once
// The counts GET /v1/stats reads, gathered while a batch of events is stored: per minute of event
// time, by type and by up to 3 payload fields (each value as JSON text, "null" when missing),
// and the processing lag's spread. The store adds them to its rollup tables in the batch's
// transaction (store/sqlite_store.cc, store/postgres_store.cc).

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace sluice::store {

// The bucket of a processing lag: 0 for none (or a negative lag), else 1 + floor(4 * log2(ms)),
// four buckets per doubling.
int lag_bucket(std::int64_t lag_ms);
// A value that stands for a bucket's lags: its geometric middle, in ms.
double lag_bucket_ms(int bucket);

// A value as the rollups key it: JSON text, strings written again with the standard escapes,
// other values as sent. Used by GET /v1/stats for `where` values too.
std::string rollup_text(std::optional<std::string_view> string_value);

// Reads the stats fields (dotted paths) out of payloads with simdjson's on-demand parser.
class RollupFields {
 public:
  explicit RollupFields(const std::vector<std::string>& fields);
  // Each field's value as JSON text; "null" for a missing field or an unreadable payload.
  void read(std::string_view payload, std::array<std::string, 3>& out);
  std::size_t size() const { return pointers_.size(); }

 private:
  std::vector<std::string> pointers_;  // "/a/b"
  simdjson::ondemand::parser parser_;
  std::string buffer_;  // the payload with simdjson's padding
};

struct RollupBatch {
  using CountKey = std::tuple<std::int64_t, std::string, std::string, std::string, std::string>;
  std::map<CountKey, std::int64_t> counts;                   // (minute, type, d1, d2, d3)
  std::map<std::pair<std::int64_t, int>, std::int64_t> lag;  // (minute, lag bucket)

  void add(std::int64_t ts_ms, std::int64_t received_at_ms, std::optional<std::string_view> type,
           const std::array<std::string, 3>& dims);
  // The same counts by hour (minute: the hour's first), for the hourly tables.
  RollupBatch hourly() const;
  bool empty() const { return counts.empty() && lag.empty(); }
  void clear() {
    counts.clear();
    lag.clear();
  }
};

// Per stream, the fields its rollups count by, and which streams' stored counts were checked to
// be by those fields since the start.
class StreamRollups {
 public:
  explicit StreamRollups(std::map<std::string, std::vector<std::string>> stats_fields)
      : stats_fields_(std::move(stats_fields)) {}
  RollupFields& fields(const std::string& stream);
  // The stream's fields as the store records them with its counts: a JSON array.
  std::string fields_json(const std::string& stream) const;
  bool checked(const std::string& stream) const { return checked_.contains(stream); }
  void set_checked(const std::string& stream) { checked_.insert(stream); }
  // After a rollback: the recount a check made is undone with it.
  void forget_checked() { checked_.clear(); }

 private:
  std::map<std::string, std::vector<std::string>> stats_fields_;
  std::map<std::string, RollupFields> fields_;
  std::set<std::string> checked_;
};

}  // namespace sluice::store
