#include "log/failure_reporter.h"

#include "core/logging.h"

namespace sluice::log {

void FailureReporter::failed(const std::string& where, const std::string& error) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  ++unreported_;
  last_error_ = where + ": " + error;
  if (failing_.load(std::memory_order_relaxed) && now - last_report_ < interval_) return;
  logger("log")->error(
      "append failed at={} error=\"{}\" failures={} (answering 503 until "
      "writes succeed)",
      where, error, unreported_);
  failing_.store(true, std::memory_order_relaxed);
  unreported_ = 0;
  last_report_ = now;
}

void FailureReporter::succeeded(const std::string& where) {
  if (!failing_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex_);
  if (!failing_.load(std::memory_order_relaxed)) return;
  logger("log")->info("appends succeed again at={} failed_since_last_report={}", where,
                      unreported_);
  failing_.store(false, std::memory_order_relaxed);
  unreported_ = 0;
  last_error_.clear();
}

std::string FailureReporter::failing() const {
  if (!failing_.load(std::memory_order_relaxed)) return "";
  std::lock_guard lock(mutex_);
  return last_error_;
}

}  // namespace sluice::log
