#pragma once
// The front door's own routes: GET /healthz (the process answers), GET /readyz (the checks
// the parts registered, answered within a deadline whatever they are doing) and GET /metrics
// (what the parts registered, in the Prometheus text format).

#include <atomic>
#include <chrono>

#include "health/readiness.h"
#include "http/router.h"
#include "http/work_pool.h"
#include "metrics/registry.h"

namespace sluice::http {

class Probes {
 public:
  // `status_work`: where the metrics are rendered, off the I/O threads; `readiness_work`: the
  // readiness checks' own, apart from everything else (a probe must not queue).
  Probes(const health::Checks& checks, const metrics::Registry& metrics, WorkPool& status_work,
         WorkPool& readiness_work);

  void add_routes(Router& router);

 private:
  // The checks on a thread of their own, or "not ready" once `deadline` passes (the check goes
  // on and is dropped when done).
  Task<health::Readiness> check_within(std::chrono::milliseconds deadline);

  const health::Checks& checks_;
  const metrics::Registry& metrics_;
  WorkPool& status_work_;
  WorkPool& readiness_work_;
  std::atomic<int> running_{0};
};

}  // namespace sluice::http
