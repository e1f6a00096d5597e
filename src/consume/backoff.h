#pragma once
// How long to wait before trying again: doubling from `first` up to `max`, back to nothing once
// something worked. The consumer runtime's retries and the pipelines' sink retries use it.

#include <algorithm>
#include <chrono>

namespace sluice::consume {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
      : first_(first), max_(max) {}

  // The next wait: `first`, then twice the last, at most `max`.
  std::chrono::milliseconds next() {
    current_ = std::clamp(current_ * 2, first_, max_);
    return current_;
  }
  // The longest wait at once: for a failure that waiting a little will not mend.
  std::chrono::milliseconds longest() {
    current_ = max_;
    return current_;
  }
  void reset() { current_ = std::chrono::milliseconds{0}; }
  // The last wait next() gave; 0 after reset().
  std::chrono::milliseconds current() const { return current_; }
  // Whether the last wait was the first of a run of failures.
  bool first_failure() const { return current_ == first_; }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_{0};
};

}  // namespace sluice::consume
