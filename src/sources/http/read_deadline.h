#pragma once
// A per-connection deadline for socket reads and writes that cancels the pending operation
// instead of closing the socket (what beast::tcp_stream's timeouts do), so that a slow client
// can still be told 408 before the connection closes. Arm it before an operation, disarm it
// after; expired() says whether the operation ended because time ran out.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace sluice::http {

// The state is shared with the timer's handler, which may run after the connection has ended.
// Used from the connection's own thread only.
class ReadDeadline {
 public:
  ReadDeadline(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::socket& socket)
      : timer_(executor), state_(std::make_shared<State>()) {
    state_->socket = &socket;
  }
  ~ReadDeadline() { state_->socket = nullptr; }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  void arm(std::chrono::milliseconds after) {
    const auto generation = ++state_->generation;
    state_->expired = false;
    timer_.expires_after(after);
    timer_.async_wait([state = state_, generation](const boost::system::error_code& error) {
      if (error || !state->socket || generation != state->generation) return;
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }
  void disarm() {
    ++state_->generation;
    timer_.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    std::uint64_t generation = 0;
    bool expired = false;
    boost::asio::ip::tcp::socket* socket = nullptr;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::http
