#pragma once
// GET /metrics: Prometheus text exposition (prometheus-cpp's data model and serializer) of what
// Sluice counts. Values are read from their owners at scrape time, so the event path only bumps
// its own atomics. The metric names and meanings are listed in docs/operations.md.

#include <string>

#include "log/log.h"
#include "metrics/http_metrics.h"

namespace sluice {
class Processor;
namespace pipeline {
class PipelineSet;
}
namespace windows {
class WindowSet;
}
}  // namespace sluice

namespace sluice::metrics {

// What a process has to report; the parts a role does not run are null.
struct Sources {
  const log::Log& log;
  const HttpMetrics* http = nullptr;
  const Processor* store = nullptr;
  const pipeline::PipelineSet* pipelines = nullptr;
  const windows::WindowSet* windows = nullptr;
  std::string data_dir;  // storage.data_dir: its file system's free space is reported
};

// The exposition text for one scrape. Thread-safe.
std::string render(const Sources& sources);

}  // namespace sluice::metrics
