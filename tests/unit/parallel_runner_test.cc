#include "log/embedded/parallel_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace sluice::log {
namespace {

// Each job waits until `expected` jobs have started: jobs run one after another never get there.
class Rendezvous {
 public:
  explicit Rendezvous(std::size_t expected) : expected_(expected) {}
  bool arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (++arrived_ == expected_) cv_.notify_all();
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return arrived_ >= expected_; });
  }

 private:
  const std::size_t expected_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t arrived_ = 0;
};

TEST(ParallelRunner, RunsTheJobsAtOnceOnTheCallerAndHelpers) {
  ParallelRunner runner(3, "test-runner");
  Rendezvous all_started(4);
  std::mutex mutex;
  std::set<std::size_t> ran;
  std::set<std::thread::id> threads;
  std::atomic<int> met{0};
  runner.run(4, [&](std::size_t i) {
    if (all_started.arrive_and_wait()) ++met;
    std::lock_guard lock(mutex);
    ran.insert(i);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(met.load(), 4) << "the four jobs did not run at the same time";
  EXPECT_EQ(ran, (std::set<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(threads.size(), 4u);
  EXPECT_TRUE(threads.count(std::this_thread::get_id())) << "the caller takes jobs too";
}

TEST(ParallelRunner, OneJobRunsOnTheCaller) {
  ParallelRunner runner(3, "test-runner");
  std::thread::id ran_on;
  runner.run(1, [&](std::size_t) { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// More jobs than threads, round after round: every job of every round runs exactly once, and
// none runs after its round returned (the job's state is gone by then; ASan would see it).
TEST(ParallelRunner, EveryJobRunsOnceInEveryRound) {
  ParallelRunner runner(3, "test-runner");
  for (std::size_t round = 0; round < 500; ++round) {
    const std::size_t count = 1 + round % 9;
    auto runs = std::make_unique<std::vector<std::atomic<int>>>(count);
    runner.run(count, [&runs](std::size_t i) { (*runs)[i].fetch_add(1); });
    for (std::size_t i = 0; i < count; ++i)
      ASSERT_EQ((*runs)[i].load(), 1) << "round " << round << " job " << i;
    runs.reset();
  }
}

}  // namespace
}  // namespace sluice::log
