#include "metrics/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace sluice::metrics {
namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                const char* backend, double value) {
  prometheus::ClientMetric metric;
  metric.label.push_back({"backend", backend});
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

}  // namespace

std::string render(const log::Log& log) {
  using prometheus::MetricType;
  const auto stats = log.stats();
  const char* backend = log.backend();
  std::vector<prometheus::MetricFamily> families = {
      family("sluice_log_appends_total", "Batches of events made durable in the log.",
             MetricType::Counter, backend, static_cast<double>(stats.appends)),
      family("sluice_log_append_failures_total",
             "Batches the log refused because a write, sync or delivery failed (answered 503).",
             MetricType::Counter, backend, static_cast<double>(stats.failed_appends)),
      family("sluice_log_bytes_total", "Bytes of events made durable in the log.",
             MetricType::Counter, backend, static_cast<double>(stats.bytes)),
      family("sluice_log_syncs_total", "fdatasync calls of the embedded log (group commits).",
             MetricType::Counter, backend, static_cast<double>(stats.syncs)),
      family("sluice_log_corrupt_regions_total",
             "Damaged stretches of the embedded log skipped when its files were opened.",
             MetricType::Counter, backend, static_cast<double>(stats.corrupt_regions)),
      family("sluice_log_segments_deleted_total", "Embedded log segments deleted by retention.",
             MetricType::Counter, backend, static_cast<double>(stats.segments_deleted)),
      family("sluice_log_in_flight_events", "Events waiting for the Kafka brokers.",
             MetricType::Gauge, backend, static_cast<double>(stats.in_flight)),
  };
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace sluice::metrics
