#pragma once
// What the pipelines report: their metrics (events read, delivered, dead-lettered, lag, sink
// write times) and a readiness check each (running, or why not).

#include <vector>

#include "health/readiness.h"
#include "metrics/families.h"
#include "pipeline/pipeline_set.h"

namespace sluice::pipeline {

void collect_metrics(const PipelineSet& pipelines, metrics::Families& families);

// One check per pipeline: ready while running or starting.
std::vector<health::Check> readiness(const PipelineSet& pipelines);

}  // namespace sluice::pipeline
