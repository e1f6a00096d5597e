#pragma once
// The connections of one I/O thread, for a graceful stop (docs/operations.md, "Stopping"):
// once the drain begins, a connection waiting for its next request is closed at once, one with
// a request in progress gets its answer (with `Connection: close`) and then closes, and when
// the last one has gone the drain calls back. Used from its I/O thread only, without locks.

#include <functional>
#include <list>
#include <utility>

#include "http/io_types.h"

namespace sluice::http {

class ConnectionDrain {
  struct Connection {
    Socket* socket;
    bool idle = false;
  };

 public:
  // A connection's place in the drain, held by its session for as long as it runs.
  class Member {
   public:
    Member(ConnectionDrain& drain, Socket& socket)
        : drain_(drain), at_(drain.connections_.insert(drain.connections_.end(), {&socket})) {}
    ~Member() { drain_.leave(at_); }
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;

    // Around the wait for a next request: an idle connection is closed when the drain begins.
    void set_idle(bool idle) { at_->idle = idle; }

   private:
    ConnectionDrain& drain_;
    std::list<Connection>::iterator at_;
  };

  bool draining() const { return draining_; }

  // Closes the idle connections and calls `drained` once none is left (at once when there
  // are none). Called once.
  void begin(std::function<void()> drained) {
    draining_ = true;
    drained_ = std::move(drained);
    for (auto& connection : connections_) {
      boost::system::error_code ignored;
      if (connection.idle) connection.socket->cancel(ignored);  // its read ends, and it closes
    }
    if (connections_.empty()) finish();
  }

  // No call back after this (the I/O threads have stopped).
  void cancel() { drained_ = nullptr; }

 private:
  void leave(std::list<Connection>::iterator at) {
    connections_.erase(at);
    if (draining_ && connections_.empty()) finish();
  }
  void finish() {
    if (auto drained = std::exchange(drained_, nullptr)) drained();
  }

  std::list<Connection> connections_;
  bool draining_ = false;
  std::function<void()> drained_;
};

}  // namespace sluice::http
