#include "http/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace sluice::http {

RateLimiter::RateLimiter(double rate_per_second, double burst)
    : rate_(rate_per_second), capacity_(std::max(1.0, rate_per_second + burst)) {}

int RateLimiter::take(std::string_view client, Clock::time_point now) {
  if (rate_ <= 0) return 0;
  Shard& shard = shards_[std::hash<std::string_view>{}(client) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(client));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kMaxClientsPerShard) forget_idle(shard, now);
    it = shard.buckets.emplace(std::string(client), Bucket{capacity_, now}).first;
  }
  Bucket& bucket = it->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(capacity_, bucket.tokens + std::max(0.0, elapsed) * rate_);
  bucket.updated = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - bucket.tokens) / rate_)));
}

void RateLimiter::forget_idle(Shard& shard, Clock::time_point now) {
  // A bucket that would be full again carries no information.
  const auto refill = std::chrono::duration<double>(capacity_ / rate_);
  std::erase_if(shard.buckets,
                [&](const auto& item) { return now - item.second.updated > refill; });
  if (shard.buckets.size() >= kMaxClientsPerShard) shard.buckets.clear();
}

}  // namespace sluice::http
