#pragma once
// An entry of `windows`: a window definition's streams, key, shape, aggregates and timing
// (docs/streaming.md).

#include <chrono>
#include <string>
#include <vector>

#include "config/table.h"

namespace sluice {

// The size of a window definition's windows: `tumbling: 5m`, `hopping: {size: 5m, every: 1m}`
// or `session: {gap: 30m}` (docs/streaming.md).
struct WindowShapeConfig {
  std::chrono::milliseconds size{};
  std::chrono::milliseconds every{};
  std::chrono::milliseconds gap{};
};

struct WindowConfig {
  std::string name;
  std::vector<std::string> from;
  std::string filter;  // expression; empty: every event
  std::vector<std::string> key;
  std::string kind;  // tumbling | hopping | session
  int kinds_given = 0;
  WindowShapeConfig shape;
  std::string aggregates;  // JSON object: result name -> aggregate, such as "p99(latency)"
  std::chrono::milliseconds allowed_lateness{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds close_after_idle{};  // 0: windows close on event time only
  std::chrono::milliseconds checkpoint_every{};
  std::chrono::milliseconds early_updates{};
  std::string late;             // stream for late events
  std::vector<std::string> to;  // sinks that get every result version, upserted
  std::string results_stream;   // the stream results pass through on their way to `to`
  std::string source;           // the entry as JSON: a changed definition starts over
};

namespace windows {

// An entry of `windows`.
const config::Table& window_table();

}  // namespace windows
}  // namespace sluice
