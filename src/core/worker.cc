#include "core/worker.h"

#include "core/thread_name.h"

namespace sluice {

void Worker::start_thread(const char* name) {
  thread_ = std::thread([this, name] {
    name_this_thread(name);
    run();
  });
}

void Worker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Worker::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

Worker::Poll Worker::poll() const {
  std::lock_guard lock(mutex_);
  return {stopping_, generation_};
}

bool Worker::pause(std::chrono::milliseconds for_how_long) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, for_how_long, [&] { return stopping_; });
}

void Worker::wait_for_news(std::uint64_t seen, std::chrono::milliseconds for_how_long) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, for_how_long, [&] { return stopping_ || generation_ != seen; });
}

}  // namespace sluice
