#pragma once
// Runs a group commit's per-file writes at once. Each partition file needs its own write and
// fdatasync; one after another, a group that touches 8 partitions waited for 8 syncs in a row
// (~850 µs on a virtio disk, against ~370 µs when the 8 run at once). The calling thread takes
// jobs too, so a group of one file runs inline and wakes nobody. Helper threads are started on
// first need, up to `max_helpers`, and live until the runner is destroyed.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::log {

class ParallelRunner {
 public:
  // Helper threads are named `<thread_name>-1`, `-2`, … (thread names hold 15 characters).
  ParallelRunner(std::size_t max_helpers, std::string thread_name);
  ~ParallelRunner();
  ParallelRunner(const ParallelRunner&) = delete;
  ParallelRunner& operator=(const ParallelRunner&) = delete;

  // Calls job(i) for every i in [0, count), each exactly once, spread over the calling thread
  // and the helpers; returns once every call has returned. One caller at a time.
  void run(std::size_t count, const std::function<void(std::size_t)>& job);

 private:
  void helper_loop();
  // Takes jobs of the current round until none is left (mutex_ not held).
  void take_jobs(const std::function<void(std::size_t)>& job, std::size_t count);

  const std::size_t max_helpers_;
  const std::string thread_name_;
  std::mutex mutex_;
  std::condition_variable work_cv_;  // helpers wait here for a round
  std::condition_variable done_cv_;  // the caller waits here for the round's end
  const std::function<void(std::size_t)>* job_ = nullptr;  // guarded by mutex_
  std::size_t count_ = 0;                                  // guarded by mutex_
  std::size_t next_ = 0;                                   // guarded by mutex_
  std::size_t finished_ = 0;                               // guarded by mutex_
  std::size_t busy_helpers_ = 0;                           // guarded by mutex_
  std::uint64_t round_ = 0;                                // guarded by mutex_
  bool stopping_ = false;                                  // guarded by mutex_
  std::vector<std::thread> helpers_;                       // the caller's
};

}  // namespace sluice::log
