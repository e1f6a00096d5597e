#pragma once
// Windows in a consumer group (docs/streaming.md#windows-in-consumer-groups): each partition of a
// definition's streams has its own window operator, in whichever process holds the partition,
// and the windows it closes are saved as partials (their aggregates' state) with its checkpoint.
// A window's final result is the merge of every partition's partial once no partition can add to
// it any more: every partition has closed it, or is idle and will close it when told to.
//
// A partition's lateness is judged by its own watermark, as in one process, so the merged
// results are the results of one process reading every partition.

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/result.h"
#include "windows/window_operator.h"

namespace sluice::windows {

// Where one partition of a definition stands, as its last checkpoint says.
struct PartitionProgress {
  std::string part;                          // "stream/index"
  std::optional<std::int64_t> closed_until;  // every window ending at or before it is closed
  bool idle = false;                         // nothing to read for idle_timeout
  std::optional<std::int64_t> open_from;     // the earliest start of its open windows
  // Events in the log it has not shown yet: no checkpoint, or none that saw an event.
  bool unread = false;
};

struct MergeBounds {
  // Where idle partitions close their windows through: the least closed_until of the active
  // ones (every partition idle: the largest).
  std::int64_t follow = INT64_MIN;
  // Windows ending at or before it are closed in every partition.
  std::int64_t merge_until = INT64_MIN;
  // Sessions: no partition has an open session starting before it.
  std::optional<std::int64_t> open_from;
};

// nullopt while a partition with events has shown none (nothing can be final yet).
std::optional<MergeBounds> merge_bounds(const std::vector<PartitionProgress>& partitions);

struct PartitionPartial {
  std::string part;
  WindowPartial window;
};

struct Merged {
  std::vector<WindowResult> results;                                      // final, ordered by end
  std::vector<std::tuple<std::string, std::string, std::int64_t>> taken;  // part, key, start
};

// The windows that are final under `bounds`, each the merge of its partials. Sessions of
// different partitions that overlap are one session.
Result<Merged> merge_partials(const WindowSpec& spec, const std::vector<PartitionPartial>& partials,
                              const MergeBounds& bounds);

}  // namespace sluice::windows
