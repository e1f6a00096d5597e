#include "metrics/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/statvfs.h>

#include <sstream>

#include "core/time.h"
#include "metrics/process_stats.h"
#include "pipeline/pipeline.h"
#include "processor/processor.h"
#include "windows/window_job.h"

namespace sluice::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// The families of one scrape, each filled with its samples as they are found.
class Families {
 public:
  MetricFamily& family(const char* name, const char* help, MetricType type) {
    for (auto& f : families_) {
      if (f.name == name) return f;
    }
    return families_.emplace_back(MetricFamily{name, help, type, {}});
  }

  void counter(const char* name, const char* help, Labels labels, double value) {
    auto& metric = family(name, help, MetricType::Counter).metric.emplace_back();
    metric.label = std::move(labels);
    metric.counter.value = value;
  }

  void gauge(const char* name, const char* help, Labels labels, double value) {
    auto& metric = family(name, help, MetricType::Gauge).metric.emplace_back();
    metric.label = std::move(labels);
    metric.gauge.value = value;
  }

  void histogram(const char* name, const char* help, Labels labels,
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

  std::string text() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families_);
    return out.str();
  }

 private:
  std::vector<MetricFamily> families_;
};

double as_double(std::uint64_t n) {
  return static_cast<double>(n);
}

void add_log(Families& f, const log::Log& log) {
  const auto stats = log.stats();
  const Labels backend = {{"backend", log.backend()}};
  f.counter("sluice_log_appends_total", "Batches of events made durable in the log.", backend,
            as_double(stats.appends));
  f.counter("sluice_log_append_failures_total",
            "Batches the log refused because a write, sync or delivery failed (answered 503).",
            backend, as_double(stats.failed_appends));
  f.counter("sluice_log_bytes_total", "Bytes of events made durable in the log.", backend,
            as_double(stats.bytes));
  f.gauge("sluice_log_failing", "1 while appends to the log fail, else 0.", backend,
          stats.failing.empty() ? 0 : 1);
  if (std::string_view(log.backend()) == "embedded") {
    f.counter("sluice_log_syncs_total", "fdatasync calls of the embedded log (group commits).",
              backend, as_double(stats.syncs));
    f.histogram("sluice_log_sync_duration_seconds",
                "Writing one group commit to one partition file and its fdatasync.", backend,
                stats.sync_seconds);
    f.counter("sluice_log_corrupt_regions_total",
              "Damaged stretches of the embedded log skipped when its files were opened.", backend,
              as_double(stats.corrupt_regions));
    f.counter("sluice_log_segments_deleted_total", "Embedded log segments deleted by retention.",
              backend, as_double(stats.segments_deleted));
    for (const auto& [consumer, count] : stats.skipped) {
      f.counter("sluice_log_skipped_events_total",
                "Events retention deleted before a consumer read them (log.retention_policy "
                "drop_oldest), by consumer.",
                {{"consumer", consumer}}, as_double(count));
    }
  } else {
    f.gauge("sluice_log_in_flight_events", "Events waiting for the Kafka brokers.", backend,
            as_double(stats.in_flight));
  }
}

void add_http(Families& f, const HttpMetrics& http) {
  for (std::size_t r = 0; r < http.routes().size(); ++r) {
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto snapshot = http.latency(r, s).snapshot();
      if (snapshot.count() == 0) continue;
      const std::string status = kStatuses[s] ? std::to_string(kStatuses[s]) : "other";
      f.histogram("sluice_http_request_duration_seconds",
                  "HTTP requests by route and answer status: time from the request's headers to "
                  "the end of the answer.",
                  {{"route", http.routes()[r]}, {"status", status}}, snapshot);
    }
  }
  f.histogram("sluice_log_append_duration_seconds",
              "From handing a request's events to the log until they are durable (the wait "
              "before a 2xx).",
              {}, http.append_latency().snapshot());
  f.gauge("sluice_tail_clients", "GET /v1/tail connections open now.", {},
          static_cast<double>(http.tail_clients()));
  for (const auto& [name, counters] : http.streams()) {
    const Labels stream = {{"stream", name}};
    auto load = [](const std::atomic<std::uint64_t>& n) {
      return as_double(n.load(std::memory_order_relaxed));
    };
    f.counter("sluice_ingest_bytes_total", "Request body bytes received, as sent (compressed).",
              stream, load(counters->bytes));
    f.counter("sluice_ingest_events_received_total", "Events found in request bodies.", stream,
              load(counters->received));
    f.counter("sluice_ingest_events_accepted_total", "Events made durable and acknowledged.",
              stream, load(counters->accepted));
    for (std::size_t i = 0; i < kRejectReasons.size(); ++i) {
      f.counter("sluice_ingest_events_rejected_total",
                "Events refused one by one (the rest of their request went on): malformed (not "
                "JSON, not an object, too deep) or invalid (schema, field rules, sanitisation).",
                {{"stream", name}, {"reason", kRejectReasons[i]}}, load(counters->rejected[i]));
    }
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto n = counters->requests[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      f.counter("sluice_ingest_requests_total", "Requests to a stream by answer status.",
                {{"stream", name},
                 {"status", kStatuses[s] ? std::to_string(kStatuses[s]) : std::string("other")}},
                as_double(n));
    }
  }
}

void add_store(Families& f, const log::Log& log, const Processor& store) {
  f.gauge("sluice_store_lag_events",
          "Events in the log not yet written to the built-in store (what GET /v1/events reads).",
          {}, as_double(log::lag(log, store.positions())));
}

void add_pipelines(Families& f, const pipeline::PipelineSet& pipelines) {
  for (const auto& s : pipelines.statuses()) {
    const Labels pipeline = {{"pipeline", s.name}};
    f.counter("sluice_pipeline_events_read_total", "Events a pipeline read from the log.", pipeline,
              as_double(s.read));
    f.counter("sluice_pipeline_events_dropped_total", "Events a pipeline's steps dropped.",
              pipeline, as_double(s.dropped));
    f.counter("sluice_pipeline_events_delivered_total",
              "Event deliveries to sinks (an event to two sinks counts twice).", pipeline,
              as_double(s.delivered));
    f.counter("sluice_pipeline_events_dead_lettered_total",
              "Events a sink rejected, sent to the pipeline's dead-letter stream.", pipeline,
              as_double(s.dead_lettered));
    f.counter("sluice_pipeline_retries_total",
              "Failed deliveries that were retried (sink unreachable, 429, 5xx...).", pipeline,
              as_double(s.retries));
    f.gauge("sluice_pipeline_lag_events", "Events in the log a pipeline has not processed yet.",
            pipeline, as_double(s.lag));
    f.gauge("sluice_pipeline_lag_seconds",
            "How long the oldest event a pipeline has not processed has waited (estimate).",
            pipeline, s.lag_seconds);
    f.gauge("sluice_pipeline_up", "1 while a pipeline is running (not retrying or stopped).",
            pipeline, s.state == "running" ? 1 : 0);
    for (const auto& sink : s.sinks) {
      f.histogram("sluice_sink_write_duration_seconds",
                  "One write of a batch to a sink, delivered or not.",
                  {{"pipeline", s.name}, {"sink", sink.sink}}, sink.write_seconds);
    }
  }
}

void add_windows(Families& f, const windows::WindowSet& windows) {
  const auto now = now_ms();
  for (const auto& s : windows.statuses()) {
    const Labels window = {{"window", s.name}};
    f.counter("sluice_window_events_read_total", "Events a window definition read.", window,
              as_double(s.read));
    f.counter("sluice_window_late_events_total",
              "Events that came after their window closed (sent to the late stream).", window,
              as_double(s.late));
    f.counter("sluice_window_results_total", "Final window results stored.", window,
              as_double(s.results));
    f.gauge("sluice_window_open_windows", "Windows open in memory (the state's size).", window,
            as_double(s.open_windows));
    if (s.watermark_ms) {
      f.gauge("sluice_window_watermark_delay_seconds",
              "How far the watermark is behind the wall clock.", window,
              static_cast<double>(now - *s.watermark_ms) / 1000);
    }
    if (s.lag) {
      f.gauge("sluice_window_lag_events", "Events in the log a window definition has not read.",
              window, as_double(*s.lag));
    }
    f.gauge("sluice_window_up",
            "1 while a window definition is running (not starting, retrying or stopped).", window,
            s.state == "running" ? 1 : 0);
    for (const auto& [rule, alerts] : s.alerts_by_rule) {
      f.counter("sluice_alerts_fired_total", "Alerts raised, by rule and window definition.",
                {{"window", s.name}, {"rule", rule}}, as_double(alerts));
    }
  }
  for (const auto& r : windows.rule_statuses()) {
    f.counter("sluice_alerts_fired_total", "Alerts raised, by rule and window definition.",
              {{"window", ""}, {"rule", r.name}}, as_double(r.alerts));
    f.counter("sluice_alerts_suppressed_total",
              "Matches of a per-event rule held back by its cooldown.", {{"rule", r.name}},
              as_double(r.suppressed));
    if (r.lag) {
      f.gauge("sluice_alert_rule_lag_events", "Events in the log an alert rule has not read.",
              {{"rule", r.name}}, as_double(*r.lag));
    }
  }
}

void add_disk(Families& f, const std::string& data_dir) {
  struct statvfs fs {};
  if (data_dir.empty() || statvfs(data_dir.c_str(), &fs) != 0) return;
  const Labels dir = {{"dir", data_dir}};
  f.gauge("sluice_data_dir_free_bytes",
          "Space left for the log and the store on storage.data_dir's file system (for "
          "unprivileged users).",
          dir, static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
  f.gauge("sluice_data_dir_size_bytes", "Size of storage.data_dir's file system.", dir,
          static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize));
}

void add_process(Families& f) {
  f.gauge("sluice_build_info", "Always 1; the labels say which Sluice this is.",
          {{"version", SLUICE_VERSION}}, 1);
  const auto stats = read_process_stats();
  if (!stats) return;
  f.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", {},
            stats->cpu_seconds);
  f.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
          as_double(stats->resident_bytes));
  f.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
          as_double(stats->virtual_bytes));
  f.gauge("process_open_fds", "Open file descriptors (connections included).", {},
          as_double(stats->open_fds));
  f.gauge("process_threads", "Threads of the process.", {}, as_double(stats->threads));
  f.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.", {},
          stats->start_time_seconds);
}

}  // namespace

std::string render(const Sources& sources) {
  Families f;
  add_log(f, sources.log);
  if (sources.http) add_http(f, *sources.http);
  if (sources.store) add_store(f, sources.log, *sources.store);
  if (sources.pipelines) add_pipelines(f, *sources.pipelines);
  if (sources.windows) add_windows(f, *sources.windows);
  add_disk(f, sources.data_dir);
  add_process(f);
  return f.text();
}

}  // namespace sluice::metrics
