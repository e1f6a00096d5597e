#include "log/embedded/retention_holds.h"

namespace sluice::log {

void RetentionHolds::hold(const std::string& consumer, const Partition& partition, Offset from) {
  std::lock_guard lock(mutex_);
  holds_[partition][consumer] = from;
}

void RetentionHolds::release(const std::string& consumer) {
  std::lock_guard lock(mutex_);
  for (auto& [partition, holders] : holds_)
    holders.erase(consumer);
}

std::optional<RetentionHolds::Holder> RetentionHolds::oldest(const Partition& partition) const {
  std::lock_guard lock(mutex_);
  auto it = holds_.find(partition);
  if (it == holds_.end()) return std::nullopt;
  std::optional<Holder> out;
  for (const auto& [consumer, from] : it->second) {
    if (!out || from < out->from) out = Holder{consumer, from};
  }
  return out;
}

}  // namespace sluice::log
