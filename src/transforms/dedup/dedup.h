#pragma once
// dedup: drops an event whose id (or another field) was already seen within a time window.
//
//   - dedup: {window: 10m, max_keys: 100000}
//   - dedup: {field: order.number, window: 1h}
//
// The window is measured in the events' arrival time (received_at), so a replay from the log
// deduplicates exactly as the first pass did. At most max_keys keys are remembered; when more
// arrive within the window the oldest are forgotten first. The memory is the pipeline's own and
// starts empty when the process starts; SQL sinks also keep one row per id.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/table.h"
#include "core/result.h"
#include "pipeline/transform.h"

namespace sluice::transforms {

class Dedup : public pipeline::Transform {
 public:
  struct Settings {
    std::string field;  // empty: the event id
    std::chrono::milliseconds window{};
    int max_keys = 0;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Transform>> build(const pipeline::TransformContext&,
                                                            const Settings& settings);

  explicit Dedup(Settings settings) : settings_(std::move(settings)) {}
  bool apply(pipeline::PipelineEvent& event) override;

 private:
  void forget_before(std::int64_t oldest_ms);

  Settings settings_;
  std::unordered_map<std::string, std::int64_t> seen_;         // key -> last arrival, ms
  std::deque<std::pair<std::int64_t, std::string>> arrivals_;  // in arrival order
};

}  // namespace sluice::transforms
