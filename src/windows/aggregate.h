#pragma once
// Window aggregates (docs/streaming.md): what a window computes over its events, written in
// configuration as `count`, `sum(value)`, `avg(value)`, `min(value)`, `max(value)`,
// `count_distinct(user)`, `collect_set(severity)` (or `collect_set(severity, 20)`) and
// `p50(latency)` / `p90` / `p95` / `p99`.
//
// Every state here is independent of the order its values arrive in, and two states merge
// (session windows join): after a crash the log is replayed in another interleaving of its
// partitions and the results must come out the same.
//   - sum and avg add fixed-point micro-units in 128 bits: exact to 6 decimal places.
//   - count_distinct is exact up to 1024 distinct values, then a HyperLogLog with 4096
//     registers (standard error 1.6 %).
//   - collect_set keeps the `limit` smallest distinct values (default 100).
//   - percentiles come from a DDSketch with 1 % relative accuracy: the answer is within 1 % of
//     a value whose rank is the asked one.

#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace sluice::windows {

enum class AggregateKind {
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kCountDistinct,
  kCollectSet,
  kPercentile
};

struct AggregateSpec {
  std::string name;  // the result field
  AggregateKind kind = AggregateKind::kCount;
  std::string field;  // dotted path; empty for count
  double quantile = 0;
  std::size_t limit = 100;    // collect_set
  bool of_event_ids = false;  // collect_set of the events' ids rather than a field (alerts)
};

// Parses one aggregate (`p99(latency)`); the error says what is accepted.
Result<AggregateSpec> parse_aggregate(std::string name, std::string_view text);

struct CountState {
  std::int64_t n = 0;
};
struct SumState {
  __int128 micros = 0;
  std::int64_t n = 0;
};
struct ExtremeState {
  double value = 0;
  bool seen = false;
};
struct DistinctState {
  std::set<std::uint64_t> hashes;       // exact while small
  std::vector<std::uint8_t> registers;  // HyperLogLog once `hashes` outgrew its bound
};
struct SetState {
  std::set<std::string> values;
};
// DDSketch bucket -> count. A sorted vector: a window's sketch has tens of buckets, looked up on
// every event.
using SketchBuckets = boost::container::flat_map<int, std::uint64_t>;
// Boost's flat_map and small_vector do not declare their moves noexcept; they throw only when
// memory runs out, where the process ends anyway.
struct SketchState {  // NOLINT(bugprone-exception-escape)
  SketchBuckets positive, negative;
  std::uint64_t zeros = 0;
};
using AggregateState =
    std::variant<CountState, SumState, ExtremeState, DistinctState, SetState, SketchState>;

// The aggregates of one window and key.
class Accumulator {  // NOLINT(bugprone-exception-escape): see SketchState
 public:
  explicit Accumulator(const std::vector<AggregateSpec>& specs);
  // Adds one event (a JSON object) whose id is `id`.
  void add(const std::vector<AggregateSpec>& specs, const boost::json::value& event,
           std::string_view id = {});
  void merge(const std::vector<AggregateSpec>& specs, const Accumulator& other);
  std::int64_t events() const { return events_; }
  // {"<name>": value, ...}
  boost::json::object result(const std::vector<AggregateSpec>& specs) const;

  boost::json::value save(const std::vector<AggregateSpec>& specs) const;
  static Result<Accumulator> load(const std::vector<AggregateSpec>& specs,
                                  const boost::json::value& saved);

 private:
  Accumulator() = default;
  std::int64_t events_ = 0;
  // In place for up to four aggregates: no allocation of its own when a window opens.
  boost::container::small_vector<AggregateState, 4> states_;
};

}  // namespace sluice::windows
