#pragma once
// Logs append failures without flooding: under load every request fails while a disk is full
// or the brokers are away. The first failure is logged at once, then at most one line per
// interval with the count in between, and one line when appends succeed again.
// Thread-safe; succeeded() costs one relaxed atomic load while nothing is failing.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

namespace sluice::log {

class FailureReporter {
 public:
  explicit FailureReporter(std::chrono::seconds interval = std::chrono::seconds(10))
      : interval_(interval) {}

  void failed(const std::string& where, const std::string& error);
  void succeeded(const std::string& where);
  // The last error while appends fail, else empty.
  std::string failing() const;

 private:
  const std::chrono::seconds interval_;
  std::atomic<bool> failing_{false};
  mutable std::mutex mutex_;
  std::string last_error_;
  std::uint64_t unreported_ = 0;
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace sluice::log
