#include "pipeline/pipeline_report.h"

namespace sluice::pipeline {

void collect_metrics(const PipelineSet& pipelines, metrics::Families& f) {
  for (const auto& s : pipelines.statuses()) {
    const metrics::Labels pipeline = {{"pipeline", s.name}};
    f.counter("sluice_pipeline_events_read_total", "Events a pipeline read from the log.", pipeline,
              metrics::as_double(s.read));
    f.counter("sluice_pipeline_events_dropped_total", "Events a pipeline's steps dropped.",
              pipeline, metrics::as_double(s.dropped));
    f.counter("sluice_pipeline_events_delivered_total",
              "Event deliveries to sinks (an event to two sinks counts twice).", pipeline,
              metrics::as_double(s.delivered));
    f.counter("sluice_pipeline_events_dead_lettered_total",
              "Events a sink rejected, sent to the pipeline's dead-letter stream.", pipeline,
              metrics::as_double(s.dead_lettered));
    f.counter("sluice_pipeline_retries_total",
              "Failed deliveries that were retried (sink unreachable, 429, 5xx...).", pipeline,
              metrics::as_double(s.retries));
    f.gauge("sluice_pipeline_lag_events", "Events in the log a pipeline has not processed yet.",
            pipeline, metrics::as_double(s.lag));
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

std::vector<health::Check> readiness(const PipelineSet& pipelines) {
  std::vector<health::Check> checks;
  for (const auto& s : pipelines.statuses()) {
    const bool ok = s.state == "running" || s.state == "starting";
    checks.push_back({.name = s.name, .ok = ok, .error = s.last_error, .state = s.state});
  }
  return checks;
}

}  // namespace sluice::pipeline
