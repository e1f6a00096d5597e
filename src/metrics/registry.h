#pragma once
// What GET /metrics reports, as registered by the parts that own it: the log, the front door,
// the collector, the store writer, pipelines and windows each add a function that reads their
// own counters at scrape time, so the event path only bumps its own atomics. This folder
// knows none of them. The metric names are listed in docs/operations.md#metrics.

#include <functional>
#include <string>
#include <vector>

#include "metrics/families.h"

namespace sluice::metrics {

class Registry {
 public:
  using Collect = std::function<void(Families&)>;

  // Before serving: the collects are read, not guarded, while scrapes run.
  void add(Collect collect);

  // The exposition text for one scrape, in the order the collects were added. Thread-safe
  // when each collect is.
  std::string render() const;

 private:
  std::vector<Collect> collects_;
};

}  // namespace sluice::metrics
