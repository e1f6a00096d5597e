#pragma once
// What the log reports about itself: its metrics (appends, syncs, failures, retention) and its
// readiness check (it takes appends).

#include "health/readiness.h"
#include "log/log.h"
#include "metrics/families.h"

namespace sluice::log {

void collect_metrics(const Log& log, metrics::Families& families);

// "log": ok while appends succeed; its state is the backend.
health::Check readiness(const Log& log);

}  // namespace sluice::log
