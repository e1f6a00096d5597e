#include "metrics/histogram.h"

#include <algorithm>

namespace sluice::metrics {

std::uint64_t HistogramSnapshot::count() const {
  std::uint64_t total = 0;
  for (auto n : buckets)
    total += n;
  return total;
}

void Histogram::observe(std::chrono::nanoseconds elapsed) {
  const std::int64_t ns = std::max<std::int64_t>(elapsed.count(), 0);
  std::size_t bucket = 0;
  while (bucket < kLatencyBoundsNs.size() && ns > kLatencyBoundsNs[bucket])
    ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot out;
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  out.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return out;
}

}  // namespace sluice::metrics
