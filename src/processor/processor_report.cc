#include "processor/processor_report.h"

namespace sluice {

void collect_store_metrics(const log::Log& log, const Processor& store,
                           metrics::Families& families) {
  families.gauge(
      "sluice_store_lag_events",
      "Events in the log not yet written to the built-in store (what GET /v1/events reads).", {},
      metrics::as_double(log::lag(log, store.positions())));
}

}  // namespace sluice
