#pragma once
// /metrics: Prometheus text exposition (prometheus-cpp's serializer) of Sluice's counters. Values
// are read from their owners at scrape time, so the event path only bumps its own atomics.
// Metric names and meanings are listed in docs/http-api.md.

#include <string>

#include "log/log.h"

namespace sluice::metrics {

// The exposition text for one scrape. Thread-safe.
std::string render(const log::Log& log);

}  // namespace sluice::metrics
