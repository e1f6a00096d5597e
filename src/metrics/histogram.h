#pragma once
// A latency histogram with fixed buckets (100 µs to 10 s) that any thread can observe into
// without a lock: two relaxed atomic additions per observation. Scrapes read a snapshot, which
// is what the Prometheus exposition needs (cumulative buckets, sum, count).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::metrics {

// Upper bounds of the buckets in nanoseconds (the +Inf bucket comes after them), so an
// observation is placed by integer comparisons.
inline constexpr std::array<std::int64_t, 16> kLatencyBoundsNs = {
    100'000,       250'000,       500'000,       1'000'000,     2'500'000,   5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,   250'000'000, 500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
// The same in seconds, as the exposition's `le` labels.
constexpr double bound_seconds(std::size_t i) {
  return static_cast<double>(kLatencyBoundsNs[i]) / 1e9;
}

struct HistogramSnapshot {
  std::array<std::uint64_t, kLatencyBoundsNs.size() + 1> buckets{};  // per bucket, not cumulative
  double sum_seconds = 0;
  std::uint64_t count() const;
};

class Histogram {
 public:
  void observe(std::chrono::nanoseconds elapsed);
  // Since `start` (steady clock).
  void observe_since(std::chrono::steady_clock::time_point start) {
    observe(std::chrono::steady_clock::now() - start);
  }
  HistogramSnapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBoundsNs.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace sluice::metrics
