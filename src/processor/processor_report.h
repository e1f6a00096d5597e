#pragma once
// What the store writer reports: how far the built-in store is behind the log.

#include "log/log.h"
#include "metrics/families.h"
#include "processor/processor.h"

namespace sluice {

void collect_store_metrics(const log::Log& log, const Processor& store,
                           metrics::Families& families);

}  // namespace sluice
