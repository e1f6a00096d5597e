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

const StreamCounters* HttpMetrics::stream(const std::string& name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second.get();
}

void HttpMetrics::sample(std::chrono::steady_clock::time_point now) {
  Sample sample{now, {}};
  sample.accepted.reserve(streams_.size());
  for (const auto& [name, counters] : streams_)
    sample.accepted.push_back(counters->accepted.load(std::memory_order_relaxed));
  std::lock_guard lock(samples_mutex_);
  samples_.push_back(std::move(sample));
  while (samples_.size() > 2 && now - samples_[1].at >= std::chrono::seconds(60))
    samples_.pop_front();
}

double HttpMetrics::accepted_rate(const std::string& stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return 0;
  const auto index = static_cast<std::size_t>(std::distance(streams_.begin(), it));
  std::lock_guard lock(samples_mutex_);
  if (samples_.size() < 2) return 0;
  const auto& first = samples_.front();
  const auto& last = samples_.back();
  const double seconds = std::chrono::duration<double>(last.at - first.at).count();
  if (seconds <= 0) return 0;
  return static_cast<double>(last.accepted[index] - first.accepted[index]) / seconds;
}

}  // namespace sluice::metrics
