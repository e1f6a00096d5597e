#pragma once
// Hands completions from other threads (the log's acknowledgements) to an I/O thread in
// batches. The first completion of a batch posts one drain to the thread's io_context; the
// ones that arrive before the drain runs only join the queue. Posting every completion on its
// own made each acknowledged request wake the I/O thread out of epoll separately (one
// epoll_ctl and one wake-up per request under load).
//
// The inbox owns what waits in it: work still queued when its thread has stopped (a stop that
// timed out, docs/operations.md) is destroyed with the inbox instead of leaking.

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice::http {

// One completion to run on the inbox's thread.
class InboxWork {
 public:
  InboxWork() = default;
  InboxWork(const InboxWork&) = delete;
  InboxWork& operator=(const InboxWork&) = delete;
  virtual ~InboxWork() = default;
  virtual void run() = 0;
};

class CompletionInbox {
 public:
  explicit CompletionInbox(boost::asio::io_context& io) : io_(io) {}
  CompletionInbox(const CompletionInbox&) = delete;
  CompletionInbox& operator=(const CompletionInbox&) = delete;

  // Any thread: runs `work` on the io_context's thread, soon.
  void push(std::unique_ptr<InboxWork> work) {
    std::unique_lock lock(mutex_);
    pending_.push_back(std::move(work));
    if (drain_posted_) return;
    drain_posted_ = true;
    lock.unlock();
    boost::asio::post(io_, [this] { drain(); });
  }

  // The inbox of the io_context the calling I/O thread runs (set by that thread at start).
  static CompletionInbox*& current() {
    thread_local CompletionInbox* inbox = nullptr;
    return inbox;
  }

 private:
  void drain() {
    {
      std::lock_guard lock(mutex_);
      running_.swap(pending_);
      drain_posted_ = false;
    }
    for (auto& work : running_)
      work->run();
    running_.clear();  // frees the work done; keeps the capacity for the next batch
  }

  boost::asio::io_context& io_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<InboxWork>> pending_;  // guarded by mutex_
  bool drain_posted_ = false;                        // guarded by mutex_
  std::vector<std::unique_ptr<InboxWork>> running_;  // the I/O thread's own
};

}  // namespace sluice::http
