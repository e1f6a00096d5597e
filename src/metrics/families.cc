#include "metrics/families.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace sluice::metrics {

using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily& Families::family(const char* name, const char* help, MetricType type) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  return families_.emplace_back(MetricFamily{name, help, type, {}});
}

void Families::counter(const char* name, const char* help, Labels labels, double value) {
  auto& metric = family(name, help, MetricType::Counter).metric.emplace_back();
  metric.label = std::move(labels);
  metric.counter.value = value;
}

void Families::gauge(const char* name, const char* help, Labels labels, double value) {
  auto& metric = family(name, help, MetricType::Gauge).metric.emplace_back();
  metric.label = std::move(labels);
  metric.gauge.value = value;
}

void Families::histogram(const char* name, const char* help, Labels labels,
                         const HistogramSnapshot& snapshot) {
  auto& metric = family(name, help, MetricType::Histogram).metric.emplace_back();
  metric.label = std::move(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
    cumulative += snapshot.buckets[i];
    metric.histogram.bucket.push_back({cumulative, bound_seconds(i)});
  }
  metric.histogram.sample_count = snapshot.count();
  metric.histogram.sample_sum = snapshot.sum_seconds;
}

std::string Families::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families_);
  return out.str();
}

}  // namespace sluice::metrics
