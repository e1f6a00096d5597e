#pragma once
// GET /v1/pipelines: each pipeline's state, lag, counts and last error (docs/http-api.md).

#include "http/router.h"
#include "http/work_pool.h"
#include "pipeline/pipeline_set.h"

namespace sluice::pipeline {

// `work`: where the statuses are gathered (a lag may ask the Kafka brokers).
void add_status_route(http::Router& router, const PipelineSet& pipelines, http::WorkPool& work);

}  // namespace sluice::pipeline
