#include "metrics/http_metrics.h"

#include <algorithm>

namespace sluice::metrics {

std::size_t status_index(unsigned status) {
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

HttpMetrics::HttpMetrics(std::vector<std::string> routes, const std::vector<std::string>& streams)
    : routes_(std::move(routes)),
      latency_(std::make_unique<Histogram[]>(routes_.size() * kStatuses.size())) {
  for (const auto& name : streams)
    streams_.emplace(name, std::make_unique<StreamCounters>());
}

std::size_t HttpMetrics::route_index(const std::string& route) const {
  auto it = std::find(routes_.begin(), routes_.end(), route);
  return it == routes_.end() ? routes_.size() - 1 : static_cast<std::size_t>(it - routes_.begin());
}

StreamCounters* HttpMetrics::stream(const std::string& name) {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

}  // namespace sluice::metrics
