#include "log/log_report.h"

#include <string_view>

namespace sluice::log {

void collect_metrics(const Log& log, metrics::Families& f) {
  const auto stats = log.stats();
  const metrics::Labels backend = {{"backend", log.backend()}};
  f.counter("sluice_log_appends_total", "Batches of events made durable in the log.", backend,
            metrics::as_double(stats.appends));
  f.counter("sluice_log_append_failures_total",
            "Batches the log refused because a write, sync or delivery failed (answered 503).",
            backend, metrics::as_double(stats.failed_appends));
  f.counter("sluice_log_bytes_total", "Bytes of events made durable in the log.", backend,
            metrics::as_double(stats.bytes));
  f.gauge("sluice_log_failing", "1 while appends to the log fail, else 0.", backend,
          stats.failing.empty() ? 0 : 1);
  if (std::string_view(log.backend()) == "embedded") {
    f.counter("sluice_log_syncs_total", "fdatasync calls of the embedded log (group commits).",
              backend, metrics::as_double(stats.syncs));
    f.histogram("sluice_log_sync_duration_seconds",
                "Writing one group commit to one partition file and its fdatasync.", backend,
                stats.sync_seconds);
    f.counter("sluice_log_corrupt_regions_total",
              "Damaged stretches of the embedded log skipped when its files were opened.", backend,
              metrics::as_double(stats.corrupt_regions));
    f.counter("sluice_log_segments_deleted_total", "Embedded log segments deleted by retention.",
              backend, metrics::as_double(stats.segments_deleted));
    for (const auto& [consumer, count] : stats.skipped) {
      f.counter("sluice_log_skipped_events_total",
                "Events retention deleted before a consumer read them (log.retention_policy "
                "drop_oldest), by consumer.",
                {{"consumer", consumer}}, metrics::as_double(count));
    }
  } else {
    f.gauge("sluice_log_in_flight_events", "Events waiting for the Kafka brokers.", backend,
            metrics::as_double(stats.in_flight));
    for (const auto& [stream, count] : stats.unreadable) {
      f.counter("sluice_log_unreadable_records_total",
                "Records in a stream's Kafka topic that are not events (another producer's text "
                "that is not a JSON object, a malformed envelope): skipped, by stream.",
                {{"stream", stream}}, metrics::as_double(count));
    }
  }
}

health::Check readiness(const Log& log) {
  const auto stats = log.stats();
  return {
      .name = "log", .ok = stats.failing.empty(), .error = stats.failing, .state = log.backend()};
}

}  // namespace sluice::log
