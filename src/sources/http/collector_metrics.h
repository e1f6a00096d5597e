#pragma once
// What the collector counts per stream: bytes, events received, accepted and rejected, requests
// by answer status, and how long appends wait for the log. Streams are fixed at start, so the
// counters are preallocated and the request path only adds to atomics.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/request_metrics.h"
#include "metrics/families.h"
#include "metrics/histogram.h"

namespace sluice::collector {

// Why the collector refused a single event of a request (the others went on).
enum class RejectReason : std::uint8_t {
  kMalformed,  // not JSON, not an object, nested too deep
  kInvalid,    // broke the stream's schema, a field rule or a sanitisation limit
};
inline constexpr std::array<const char*, 2> kRejectReasons = {"malformed", "invalid"};

struct StreamCounters {
  std::atomic<std::uint64_t> bytes{0};     // request bodies as received (before inflating)
  std::atomic<std::uint64_t> received{0};  // events found in the bodies
  std::atomic<std::uint64_t> accepted{0};  // of those, made durable
  std::array<std::atomic<std::uint64_t>, kRejectReasons.size()> rejected{};
  std::array<std::atomic<std::uint64_t>, http::kStatuses.size()> requests{};  // by answer status
};

class CollectorMetrics {
 public:
  explicit CollectorMetrics(const std::vector<std::string>& streams);

  // Null for a stream the collector does not know.
  StreamCounters* stream(const std::string& name);
  const StreamCounters* stream(const std::string& name) const;

  // Called about once a second: remembers each stream's accepted count, for accepted_rate().
  void sample(std::chrono::steady_clock::time_point now);
  // Events accepted per second over the last minute (or since the first sample).
  double accepted_rate(const std::string& stream) const;

  // From handing a request's events to the log until they are durable.
  metrics::Histogram& append_latency() { return append_latency_; }

  // For GET /v1/streams: `"accepted_per_second":…,"since_start":{"received":…,"accepted":…,
  // "rejected":{…},"bytes":…,"requests":{…}}` (null for a stream it does not know).
  void append_json(std::string& out, const std::string& stream) const;

  // sluice_ingest_* and sluice_log_append_duration_seconds.
  void collect(metrics::Families& families) const;

 private:
  std::map<std::string, std::unique_ptr<StreamCounters>, std::less<>> streams_;
  metrics::Histogram append_latency_;

  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::vector<std::uint64_t> accepted;  // per stream, in streams_ order
  };
  mutable std::mutex samples_mutex_;
  std::deque<Sample> samples_;  // the last minute's, oldest first
};

}  // namespace sluice::collector
