#pragma once
// What the window definitions and alert rules report: their metrics (events read, late events,
// results, open windows, watermark delay, alerts) and a readiness check each.

#include <vector>

#include "health/readiness.h"
#include "metrics/families.h"
#include "windows/window_set.h"

namespace sluice::windows {

void collect_metrics(const WindowSet& windows, metrics::Families& families);

// One check per window definition and per alert rule ("alerts.<rule>"): ready unless retrying.
std::vector<health::Check> readiness(const WindowSet& windows);

}  // namespace sluice::windows
