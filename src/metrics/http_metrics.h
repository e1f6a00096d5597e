#pragma once
// What the HTTP server counts: every request's latency by route and status, and per stream what
// the collector received, accepted and rejected. Routes and streams are fixed when the server is
// built, so the counters are preallocated and the request path only adds to atomics.

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

#include "metrics/histogram.h"

namespace sluice::metrics {

// The statuses Sluice answers with, each counted on its own; anything else is counted as
// "other".
inline constexpr std::array<unsigned, 18> kStatuses = {200, 202, 204, 303, 400, 401, 403, 404, 405,
                                                       408, 411, 413, 415, 429, 431, 500, 503, 0};
std::size_t status_index(unsigned status);

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
  std::array<std::atomic<std::uint64_t>, kStatuses.size()> requests{};  // by answer status
};

class HttpMetrics {
 public:
  // `routes`: the route labels (templates such as "/v1/streams/{stream}/events"); the last is
  // where requests that match no route are counted.
  HttpMetrics(std::vector<std::string> routes, const std::vector<std::string>& streams);

  std::size_t route_index(const std::string& route) const;  // of a label given at construction
  void observe(std::size_t route, unsigned status, std::chrono::nanoseconds elapsed) {
    latency_[route * kStatuses.size() + status_index(status)].observe(elapsed);
  }
  // Null for a stream the server does not know.
  StreamCounters* stream(const std::string& name);
  const StreamCounters* stream(const std::string& name) const;

  const std::vector<std::string>& routes() const { return routes_; }
  const Histogram& latency(std::size_t route, std::size_t status) const {
    return latency_[route * kStatuses.size() + status];
  }
  const std::map<std::string, std::unique_ptr<StreamCounters>, std::less<>>& streams() const {
    return streams_;
  }
  // Called about once a second: remembers each stream's accepted count, for rate().
  void sample(std::chrono::steady_clock::time_point now);
  // Events accepted per second over the last minute (or since the first sample).
  double accepted_rate(const std::string& stream) const;

  // GET /v1/tail connections open now.
  std::atomic<std::int64_t>& tail_clients() { return tail_clients_; }
  std::int64_t tail_clients() const { return tail_clients_.load(std::memory_order_relaxed); }

  // From handing a request's events to the log until they are durable.
  Histogram& append_latency() { return append_latency_; }
  const Histogram& append_latency() const { return append_latency_; }

 private:
  std::vector<std::string> routes_;
  std::unique_ptr<Histogram[]> latency_;  // routes x statuses
  std::map<std::string, std::unique_ptr<StreamCounters>, std::less<>> streams_;
  Histogram append_latency_;
  std::atomic<std::int64_t> tail_clients_{0};

  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::vector<std::uint64_t> accepted;  // per stream, in streams_ order
  };
  mutable std::mutex samples_mutex_;
  std::deque<Sample> samples_;  // the last minute's, oldest first
};

}  // namespace sluice::metrics
