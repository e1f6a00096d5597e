#include "pipeline/pipeline_settings.h"

#include "consume/start_setting.h"

namespace sluice::pipeline {

namespace {

const config::Table& pipeline_batch_table() {
  static const config::Table table{
      "pipelines.<name>.batch",
      "How much a pipeline hands its sinks at once.",
      {
          config::int_setting("max_events", &PipelineBatchConfig::max_events, 1000, 1, 1'000'000,
                              "Most events per batch."),
          config::size_setting("max_bytes", &PipelineBatchConfig::max_bytes, "4MiB", 1024,
                               1LL << 30, "Most bytes of events per batch (at least one event)."),
          config::duration_setting("max_wait", &PipelineBatchConfig::max_wait, "100ms", 0, 60'000,
                                   "After a batch that was not full, how long to let the next one "
                                   "fill."),
      }};
  return table;
}

}  // namespace

config::Table pipeline_table(const config::Table& steps) {
  return config::Table{
      "pipelines.<name>",
      "A pipeline: reads its streams from the log as its own consumer group, runs the events "
      "through its steps and hands them to its sinks (docs/pipelines.md).",
      {
          config::string_list_setting("from", &PipelineConfig::from, "[]",
                                      "Streams to read. Required."),
          config::string_setting(
              "start", &PipelineConfig::start, "earliest",
              "Where a new pipeline starts: `earliest` (everything in the log) or "
              "`latest` (events from now on). Later starts go on from the "
              "committed positions.",
              consume::check_start),
          config::list_setting("steps", &PipelineConfig::steps, steps,
                               "Transforms, in order: `filter`, `route`, `remap`, `dedup`, "
                               "`flag`, `lua` (docs/pipelines.md#steps)."),
          config::string_list_setting("to", &PipelineConfig::to, "[]",
                                      "Sinks (names under `sinks`) that get the events. Required."),
          config::section_setting("batch", &PipelineConfig::batch, pipeline_batch_table()),
          config::string_setting("dead_letter", &PipelineConfig::dead_letter, "dead_letters",
                                 "Stream for batches a sink rejects, with the reason; empty: such "
                                 "events are logged and dropped."),
          config::bool_setting(
              "upsert", &PipelineConfig::upsert, false,
              "SQL sinks (`sqlite`, `postgres`) replace a stored row with the same "
              "stream and id by the newer event, instead of keeping the first."),
      }};
}

}  // namespace sluice::pipeline
