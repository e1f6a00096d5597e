#pragma once
// The metric families of one scrape, as prometheus-cpp's data model: each owner adds its
// samples (metrics/registry.h) and the registry serialises them in the text format.

#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/histogram.h"

namespace sluice::metrics {

using Labels = std::vector<prometheus::ClientMetric::Label>;

class Families {
 public:
  void counter(const char* name, const char* help, Labels labels, double value);
  void gauge(const char* name, const char* help, Labels labels, double value);
  void histogram(const char* name, const char* help, Labels labels,
                 const HistogramSnapshot& snapshot);

  // The text exposition format.
  std::string text() const;

 private:
  prometheus::MetricFamily& family(const char* name, const char* help, prometheus::MetricType type);

  std::vector<prometheus::MetricFamily> families_;
};

inline double as_double(std::uint64_t n) {
  return static_cast<double>(n);
}

}  // namespace sluice::metrics
