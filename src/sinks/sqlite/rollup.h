#pragma once
// The counts GET /v1/stats reads, gathered while a batch of events is stored: per minute of event
// time, by type and by up to 3 payload fields (each value as JSON text, "null" when missing),
// and the processing lag's spread. The store adds them to its rollup tables in the batch's
// transaction (sqlite_sink.cc).

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace sluice::sqlite {

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
  bool empty() const { return counts.empty() && lag.empty(); }
  void clear() {
    counts.clear();
    lag.clear();
  }
};

}  // namespace sluice::sqlite
