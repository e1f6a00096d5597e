#include "http/connection_drain.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <optional>

namespace sluice::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A connected pair over loopback: `server` is the side a session would hold.
struct Pair {
  explicit Pair(asio::io_context& io) : server(io.get_executor()), client(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  Socket server;
  tcp::socket client;
};

TEST(ConnectionDrain, CallsBackAtOnceWithoutConnections) {
  ConnectionDrain drain;
  int calls = 0;
  drain.begin([&] { ++calls; });
  EXPECT_TRUE(drain.draining());
  EXPECT_EQ(calls, 1);
}

TEST(ConnectionDrain, ClosesIdleConnectionsAndWaitsForBusyOnes) {
  asio::io_context io;
  Pair idle(io);
  Pair busy(io);
  ConnectionDrain drain;
  std::optional<ConnectionDrain::Member> idle_member(std::in_place, drain, idle.server);
  std::optional<ConnectionDrain::Member> busy_member(std::in_place, drain, busy.server);
  idle_member->set_idle(true);

  std::array<char, 16> buffer{};
  boost::system::error_code idle_error;
  bool idle_read_done = false;
  idle.server.async_read_some(asio::buffer(buffer), [&](boost::system::error_code e, std::size_t) {
    idle_error = e;
    idle_read_done = true;
  });
  int calls = 0;
  drain.begin([&] { ++calls; });
  io.run();
  EXPECT_TRUE(idle_read_done);
  EXPECT_EQ(idle_error, asio::error::operation_aborted);  // its wait for a request was cut
  EXPECT_EQ(calls, 0);

  idle_member.reset();  // the idle session ends
  EXPECT_EQ(calls, 0);  // the busy one is still answering
  busy_member.reset();
  EXPECT_EQ(calls, 1);
}

TEST(ConnectionDrain, CancelledDrainDoesNotCallBack) {
  asio::io_context io;
  Pair pair(io);
  ConnectionDrain drain;
  std::optional<ConnectionDrain::Member> member(std::in_place, drain, pair.server);
  int calls = 0;
  drain.begin([&] { ++calls; });
  drain.cancel();
  member.reset();
  EXPECT_EQ(calls, 0);
}

TEST(ConnectionDrain, NoCallBackBeforeTheDrainBegins) {
  asio::io_context io;
  Pair pair(io);
  ConnectionDrain drain;
  { ConnectionDrain::Member member(drain, pair.server); }
  EXPECT_FALSE(drain.draining());
  int calls = 0;
  drain.begin([&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace sluice::http
