#include "http/request_metrics.h"

namespace sluice::http {

std::size_t status_index(unsigned status) {
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

std::string status_label(std::size_t index) {
  return kStatuses[index] ? std::to_string(kStatuses[index]) : "other";
}

RequestMetrics::RequestMetrics(std::vector<std::string> routes)
    : routes_(std::move(routes)),
      latency_(std::make_unique<metrics::Histogram[]>(routes_.size() * kStatuses.size())) {}

void RequestMetrics::collect(metrics::Families& families) const {
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto snapshot = latency_[r * kStatuses.size() + s].snapshot();
      if (snapshot.count() == 0) continue;
      families.histogram("sluice_http_request_duration_seconds",
                         "HTTP requests by route and answer status: time from the request's "
                         "headers to the end of the answer.",
                         {{"route", routes_[r]}, {"status", status_label(s)}}, snapshot);
    }
  }
}

}  // namespace sluice::http
