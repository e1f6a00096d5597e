#pragma once
// The shape pipelines, window definitions and alert rules share: one thread that reads the log
// at its own pace, woken when new records are durable (notify) and stopped between batches
// (stop). Subclasses write run(); their destructors call stop(), since run() uses their members.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace sluice {

class Worker {
 public:
  Worker() = default;
  virtual ~Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void stop();    // waits for run() to return
  void notify();  // new records are durable; any thread

 protected:
  // Runs run() on a new thread called `name` (at most 15 characters).
  void start_thread(const char* name);
  virtual void run() = 0;

  // Whether stop() was called, and how many notify() calls came so far.
  struct Poll {
    bool stopping;
    std::uint64_t seen;
  };
  Poll poll() const;
  bool stopping() const { return poll().stopping; }
  // Sleeps up to `for_how_long`, or until stop(); true when stopping.
  bool pause(std::chrono::milliseconds for_how_long);
  // Waits up to `for_how_long` for a notify() after `seen`, or stop().
  void wait_for_news(std::uint64_t seen, std::chrono::milliseconds for_how_long);

  mutable std::mutex mutex_;  // also guards what subclasses share with other threads

 private:
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice
