#pragma once
// What the front door counts: every request's latency by route and answer status. Routes are
// fixed when the server binds, so the histograms are preallocated and a request only adds to
// atomics.

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "metrics/families.h"
#include "metrics/histogram.h"

namespace sluice::http {

// The statuses Sluice answers with, each counted on its own; anything else is counted as
// "other".
inline constexpr std::array<unsigned, 18> kStatuses = {200, 202, 204, 303, 400, 401, 403, 404, 405,
                                                       408, 411, 413, 415, 429, 431, 500, 503, 0};
std::size_t status_index(unsigned status);
// "202", or "other".
std::string status_label(std::size_t index);

class RequestMetrics {
 public:
  // `routes`: the route labels (templates such as "/v1/streams/{stream}/events").
  explicit RequestMetrics(std::vector<std::string> routes);

  void observe(std::size_t route, unsigned status, std::chrono::nanoseconds elapsed) {
    latency_[route * kStatuses.size() + status_index(status)].observe(elapsed);
  }
  const std::vector<std::string>& routes() const { return routes_; }

  // sluice_http_request_duration_seconds, for the routes and statuses answered so far.
  void collect(metrics::Families& families) const;

 private:
  std::vector<std::string> routes_;
  std::unique_ptr<metrics::Histogram[]> latency_;  // routes x statuses
};

}  // namespace sluice::http
