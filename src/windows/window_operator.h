#pragma once
// The window operator (docs/streaming.md): assigns each event to its windows by event time and
// key, keeps their aggregates, and closes the windows the watermark has passed.
//
// Watermarks. Each partition's watermark is the largest event time it has shown minus
// `allowed_lateness`. An event is late when every window it belongs to ends at or before its
// own partition's watermark, or was already closed; late events are the caller's to send on.
// Windows close when the combined watermark passes their end: the smallest partition
// watermark among partitions that have shown events and are not idle. A partition with nothing
// to read for `idle_timeout` stops holding the others back (when all are idle the largest
// counts); a partition with events not yet read that has shown none holds everything back.
// Lateness is judged by the event's own partition, whose order the log fixes, so a
// replay after a crash accepts and refuses exactly the same events.

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "windows/aggregate.h"

namespace sluice::windows {

struct WindowSpec {
  enum class Kind { kTumbling, kHopping, kSession };
  Kind kind = Kind::kTumbling;
  std::int64_t size_ms = 60'000;  // tumbling, hopping
  std::int64_t every_ms = 0;      // hopping
  std::int64_t gap_ms = 0;        // session
  std::int64_t allowed_lateness_ms = 0;
  std::vector<std::string> key_fields;
  std::vector<AggregateSpec> aggregates;
};

struct WindowResult {
  std::string key;  // the key values as a JSON array, such as ["NYC","traffic"]
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t events = 0;
  boost::json::object values;  // aggregate name -> value
};

// A window closed by one partition's operator in a consumer group: its aggregates' state, for
// merging with the other partitions' (partial_merge.h).
struct WindowPartial {
  std::string key;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  boost::json::value state;  // Accumulator::save()
};

class WindowOperator {
 public:
  explicit WindowOperator(WindowSpec spec) : spec_(std::move(spec)) {}
  // The per-key index holds iterators into the windows: a copy would point into the original,
  // while a move takes the map's nodes and the iterators stay good. There is no move
  // assignment, as the flat map's may allocate: emplace a new operator instead.
  WindowOperator(const WindowOperator&) = delete;
  WindowOperator& operator=(const WindowOperator&) = delete;
  WindowOperator(WindowOperator&&) noexcept = default;
  WindowOperator& operator=(WindowOperator&&) = delete;
  ~WindowOperator() = default;

  // Adds one event read from `partition` ("stream/index") with event time `ts_ms` and id `id`.
  // The reason it is late, if it is.
  std::optional<std::string> add(const std::string& partition, std::int64_t ts_ms,
                                 const boost::json::value& event, std::string_view id = {});
  // An event the filter left out still moves its partition's event time on.
  void observe(const std::string& partition, std::int64_t ts_ms);
  // A partition that has events to read but has shown none yet (a Kafka fetch in flight):
  // until it shows one, nothing closes.
  void hold(const std::string& partition);
  // Whether a partition has had nothing to read for the idle timeout (the caller's clock).
  void set_idle(const std::string& partition, bool idle);
  // Brings every partition's event time back to at most `limit_ms`; whether any was beyond.
  bool cap_event_time(std::int64_t limit_ms);
  // The combined watermark; INT64_MIN before any event.
  std::int64_t watermark() const;
  // The largest event time any partition has shown; INT64_MIN before any event.
  std::int64_t latest_event_time() const;
  // Closes (at the next close_ready) every window ending at or before `watermark_ms`, whatever
  // the partitions' event times: for streams that have gone quiet. Events for those windows are
  // late from then on.
  void close_through(std::int64_t watermark_ms) {
    closed_until_ = std::max(closed_until_, watermark_ms);
  }
  // Every window ending at or before this is closed.
  std::int64_t closed_until() const { return closed_until_; }
  // Closes every window the combined watermark has passed; their results, ordered by end.
  std::vector<WindowResult> close_ready();
  // The same, as the aggregates' state (a partition's share of a window in a consumer group).
  std::vector<WindowPartial> close_ready_partials();
  // Whether `partition` is idle (set_idle).
  bool idle(const std::string& partition) const;
  // The earliest start of the windows still open; nullopt when none is.
  std::optional<std::int64_t> earliest_open_start() const;
  // The windows still open, as they stand (early results).
  std::vector<WindowResult> open_results() const;
  std::size_t open_windows() const { return windows_.size(); }
  const WindowSpec& spec() const { return spec_; }

  // State for a checkpoint, and back.
  boost::json::value save() const;
  static Result<WindowOperator> load(WindowSpec spec, const boost::json::value& saved);

  // The key of an event: the key fields' values as a JSON array.
  std::string key_of(const boost::json::value& event) const;

 private:
  struct WindowId {
    std::int64_t end;
    std::string key;
    std::int64_t start;
    auto operator<=>(const WindowId&) const = default;
  };
  struct PartitionClock {
    std::int64_t max_ts = INT64_MIN;
    bool idle = false;
    bool held = false;
  };
  using Windows = std::map<WindowId, Accumulator>;
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::int64_t partition_watermark(const PartitionClock& clock) const;
  // Takes out every window the combined watermark has passed, in order of end, to `out`.
  template <class Out>
  void take_ready(Out out);
  // The key into a buffer reused for every event: no allocation unless the window is new.
  void write_key(const boost::json::value& event, std::string& out) const;
  Accumulator& window(std::string_view key, std::int64_t start, std::int64_t end);
  void unindex(const WindowId& id);
  // Session windows: merges the event's session [ts, ts + gap) with the key's open sessions it
  // touches; false when it touches none and ends at or before `floor` (late).
  bool add_to_session(const std::string& key, std::int64_t ts, std::int64_t floor,
                      const boost::json::value& event, std::string_view id);

  WindowSpec spec_;
  Windows windows_;  // by end first: closing takes from the front
  // Tumbling and hopping windows by key, for the per-event lookup. Open addressing with the key
  // and its (usually one or two) open windows in the slot: a lookup touches a slot rather than a
  // bucket, a node and a vector, each a cache miss once there are thousands of keys.
  using KeyWindows = boost::container::small_vector<std::pair<std::int64_t, Windows::iterator>, 2>;
  boost::unordered_flat_map<std::string, KeyWindows, TextHash, std::equal_to<>> by_key_;
  std::string key_buffer_;
  std::map<std::string, std::map<std::int64_t, std::int64_t>> sessions_;  // key -> start -> end
  std::map<std::string, PartitionClock> partitions_;
  std::int64_t closed_until_ = INT64_MIN;  // every window ending at or before it is closed
};

}  // namespace sluice::windows
