#pragma once
// Token-bucket rate limiting by client (address or key). Each client's bucket holds up to
// rate + burst tokens and refills at `rate` per second; a request takes one token.
// Thread-safe; sharded so I/O threads rarely meet on a lock. Buckets of idle clients are
// forgotten once a shard holds many, so memory stays bounded under address churn.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // rate 0 allows everything.
  RateLimiter(double rate_per_second, double burst);

  // 0 when the request may go on; otherwise the whole seconds until a token is available
  // (at least 1), for Retry-After.
  int take(std::string_view client, Clock::time_point now);
  // The same at the current time; no clock read when there is no limit.
  int take(std::string_view client) { return rate_ <= 0 ? 0 : take(client, Clock::now()); }

  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kMaxClientsPerShard = 1 << 16;

  void forget_idle(Shard& shard, Clock::time_point now);

  double rate_;
  double capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace sluice::http
