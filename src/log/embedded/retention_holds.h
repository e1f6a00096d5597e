#pragma once
// What each consumer of the embedded log still needs, per partition: under
// log.retention_policy protect, retention deletes a segment only once every consumer holding
// the partition has moved past its last record. A consumer holds from offset 0 until it knows
// its position, so nothing is deleted while it loads (its store may be down for hours).
//
// Thread-safe: consumers update their holds from their own threads, the log writer reads them.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "log/log.h"

namespace sluice::log {

class RetentionHolds {
 public:
  struct Holder {
    std::string consumer;
    Offset from;
  };

  // `consumer` still needs the partition's records from `from` on (it replaces the consumer's
  // previous hold on that partition).
  void hold(const std::string& consumer, const Partition& partition, Offset from);
  // Drops every hold of `consumer`.
  void release(const std::string& consumer);
  // The consumer needing the oldest record of the partition; nullopt when nobody holds it.
  std::optional<Holder> oldest(const Partition& partition) const;

 private:
  mutable std::mutex mutex_;
  std::map<Partition, std::map<std::string, Offset>> holds_;
};

}  // namespace sluice::log
