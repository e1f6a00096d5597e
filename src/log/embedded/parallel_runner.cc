#include "log/embedded/parallel_runner.h"

#include <algorithm>
#include <system_error>

#include "core/thread_name.h"

namespace sluice::log {

ParallelRunner::ParallelRunner(std::size_t max_helpers, std::string thread_name)
    : max_helpers_(max_helpers), thread_name_(std::move(thread_name)) {}

ParallelRunner::~ParallelRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& helper : helpers_)
    helper.join();
}

void ParallelRunner::run(std::size_t count, const std::function<void(std::size_t)>& job) {
  if (count == 0) return;
  if (count == 1 || max_helpers_ == 0) {
    for (std::size_t i = 0; i < count; ++i)
      job(i);
    return;
  }
  const std::size_t wanted = std::min(count - 1, max_helpers_);
  while (helpers_.size() < wanted) {
    try {
      helpers_.emplace_back([this, n = helpers_.size() + 1] {
        name_this_thread((thread_name_ + "-" + std::to_string(n)).c_str());
        helper_loop();
      });
    } catch (const std::system_error&) {
      break;  // no more threads (a process limit): the caller and the helpers so far do the jobs
    }
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    count_ = count;
    next_ = 0;
    finished_ = 0;
    ++round_;
  }
  // Only as many helpers as there are jobs beyond the caller's own are woken.
  for (std::size_t i = 0; i < std::min(wanted, helpers_.size()); ++i)
    work_cv_.notify_one();
  take_jobs(job, count);
  std::unique_lock lock(mutex_);
  // Every job done, and no helper still inside this round (it would read job_ after return).
  done_cv_.wait(lock, [&] { return finished_ == count_ && busy_helpers_ == 0; });
  job_ = nullptr;
}

void ParallelRunner::take_jobs(const std::function<void(std::size_t)>& job, std::size_t count) {
  for (;;) {
    std::size_t i;
    {
      std::lock_guard lock(mutex_);
      if (next_ == count) return;
      i = next_++;
    }
    job(i);
    bool last;
    {
      std::lock_guard lock(mutex_);
      last = ++finished_ == count;
    }
    if (last) done_cv_.notify_one();
  }
}

void ParallelRunner::helper_loop() {
  std::uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || (round_ != seen && job_ != nullptr); });
    if (stopping_) return;
    seen = round_;
    const auto* job = job_;
    const std::size_t count = count_;
    ++busy_helpers_;
    lock.unlock();
    take_jobs(*job, count);
    lock.lock();
    if (--busy_helpers_ == 0) done_cv_.notify_one();
  }
}

}  // namespace sluice::log
