#pragma once
// GET /v1/windows: each window definition's and alert rule's state, watermark, lag and counts
// (docs/http-api.md). A window's results, GET /v1/windows/{name}, are the query API's.

#include "http/router.h"
#include "http/work_pool.h"
#include "windows/window_set.h"

namespace sluice::windows {

// `work`: where the statuses are gathered (a lag may ask the Kafka brokers).
void add_status_route(http::Router& router, const WindowSet& windows, http::WorkPool& work);

}  // namespace sluice::windows
