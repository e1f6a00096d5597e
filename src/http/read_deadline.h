#pragma once
// A per-connection deadline for socket reads and writes that cancels the pending operation
// instead of closing the socket (what beast::tcp_stream's timeouts do), so that a slow client
// can still be told 408 before the connection closes. Arm it before an operation, disarm it
// after; expired() says whether the operation ended because time ran out.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>

#include "http/io_types.h"

namespace sluice::http {

// Arming and disarming cost a clock read, not a timer operation: one timer wait stays pending
// and, when it fires, either cancels the socket (the deadline has passed while armed), waits
// again for a later deadline, or goes idle until the next arm(). Cancelling and re-arming a
// timer for every read and write would queue several handler runs per request.
// The state is shared with the timer's handler, which may run after the connection has ended.
// Used from the connection's own thread only.
class ReadDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  ReadDeadline(const IoExecutor& executor, Socket& socket)
      : timer_(executor), state_(std::make_shared<State>()) {
    state_->socket = &socket;
    state_->timer = &timer_;
  }
  ~ReadDeadline() {
    state_->socket = nullptr;  // the handler, if it still runs, does nothing
    state_->timer = nullptr;
  }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  void arm(std::chrono::milliseconds after) {
    state_->deadline = coarse_now() + after;
    state_->armed = true;
    state_->expired = false;
    // A pending wait that ends later than the new deadline (idle_timeout, then the shorter
    // header_timeout) is replaced; its handler sees operation_aborted and does nothing.
    if (!state_->waiting || state_->deadline < state_->timer_expiry) wait(state_);
  }
  void disarm() { state_->armed = false; }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    Clock::time_point deadline;
    bool armed = false;
    bool expired = false;
    bool waiting = false;
    Clock::time_point timer_expiry;  // of the pending wait
    Socket* socket = nullptr;
    Timer* timer = nullptr;
  };

  // Arming happens several times per request: it reads the kernel's coarse monotonic clock
  // (the same clock as steady_clock, a few ms behind at most), a fraction of a precise read.
  // Deadlines are hundreds of milliseconds and more, so a deadline a tick early changes nothing.
  static Clock::time_point coarse_now() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return Clock::time_point(std::chrono::seconds(now.tv_sec) +
                             std::chrono::nanoseconds(now.tv_nsec));
  }

  static void wait(const std::shared_ptr<State>& state) {
    state->waiting = true;
    state->timer_expiry = state->deadline;
    state->timer->expires_at(state->deadline);  // cancels a pending wait, if any
    state->timer->async_wait([state](const boost::system::error_code& error) {
      if (error || !state->socket) return;  // replaced by a new wait, or the connection ended
      state->waiting = false;
      if (!state->armed) return;  // idle until the next arm()
      if (Clock::now() < state->deadline) {
        wait(state);  // re-armed since this wait began: wait for the new deadline
        return;
      }
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }

  Timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::http
