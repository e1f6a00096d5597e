#pragma once
// An entry of `pipelines` (its streams, steps, sinks and batches) and of `sinks` / `steps` as
// loaded: which registered kind, with that kind's settings.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/table.h"

namespace sluice {

// A sink (sinks.<name>) or a pipeline step: which kind it is comes from the one key given
// ("file", "filter", ...); the settings are that kind's own struct (components/registry.h).
struct ComponentConfig {
  std::string name;
  std::string kind;
  std::shared_ptr<void> settings;
  int kinds_given = 0;
  std::string source;  // sinks: the entry as JSON, to tell whether a reload changed it
};

struct PipelineBatchConfig {
  int max_events = 0;
  std::uint64_t max_bytes = 0;
  std::chrono::milliseconds max_wait{};
};

struct PipelineConfig {
  std::string name;
  std::vector<std::string> from;
  std::string start;  // earliest | latest
  std::vector<ComponentConfig> steps;
  std::vector<std::string> to;
  PipelineBatchConfig batch;
  std::string dead_letter;
  bool upsert = false;  // SQL sinks replace rows with the same (stream, id)
  std::string source;   // the entry and its sinks as JSON, to tell whether a reload changed it
};

namespace pipeline {

// An entry of `pipelines`, its steps being entries of `steps` (the registry's kinds).
// `steps` must outlive the table.
config::Table pipeline_table(const config::Table& steps);

}  // namespace pipeline
}  // namespace sluice
