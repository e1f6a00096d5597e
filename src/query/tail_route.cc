// GET /v1/tail: Server-Sent Events of the streams' new events, heartbeats while quiet. A client
// that falls kMaxTailLag events behind, or whose socket takes no data for server.body_timeout,
// is dropped with a last `event: dropped`; ingest never waits for it. Counted in the request
// metrics when the answer's head is written (the stream's length says nothing about latency).
#include <fmt/format.h>

#include "query/read_routes.h"
#include "query/tail_cursor.h"

namespace sluice::query {
namespace {

// What one read of the cursor gave.
struct Chunk {
  Result<std::string> text;
  std::size_t read = 0;
  std::uint64_t lag = 0;
};

// Counts a tail out when it ends, however it ends.
struct Leave {
  std::atomic<std::int64_t>& clients;
  ~Leave() { clients.fetch_sub(1, std::memory_order_relaxed); }
};

http::Task<void> send(http::AnswerStream& out, http::Reply res) {
  const std::string text = res.serialize();
  co_await out.write(text);
  out.answered(res.status);
}

// The last message of a tail the server ends.
http::Task<void> drop(http::AnswerStream& out, std::string why) {
  std::string last = "event: dropped\ndata: ";
  last += http::error_json(why);
  last += "\n\n";
  co_await out.write(last);
}

}  // namespace

// GCC 12 reports Asio's coroutine frame allocation and its sized delete as a mismatch once
// they are inlined into this long coroutine (a false positive, GCC bug 109224).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
http::Task<void> ReadRoutes::tail(http::Request& req, const http::Call& call,
                                  http::AnswerStream& out) {
  constexpr std::uint64_t kMaxTailLag = 100'000;
  constexpr std::size_t kEventsPerWrite = 1000;
  const auto& server = parts_.config.server;
  // A tail holds a connection and a cursor for as long as the client likes: their number is
  // bounded.
  const auto before = tail_clients_.fetch_add(1, std::memory_order_relaxed);
  const Leave leave{tail_clients_};
  const int max_tails = server.max_tails;
  if (max_tails > 0 && before >= max_tails) {
    http::Reply busy = http::error_answer(
        req, make_error(Errc::kUnavailable,
                        fmt::format("{} live tails are open, the most this server keeps "
                                    "(server.max_tails); try again later",
                                    max_tails)));
    co_await send(out, std::move(busy));
    co_return;
  }
  const Params params = query_params(call.url);
  auto opened = co_await tail_work_.run(
      [this, &params] { return TailCursor::open(parts_.log, stream_list_, params); });
  if (!opened) {
    http::Reply refused = http::error_answer(req, opened.error());
    co_await send(out, std::move(refused));
    co_return;
  }
  TailCursor& cursor = opened.value();

  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Connection: close\r\nX-Accel-Buffering: no\r\n\r\nretry: 1000\n\n: tail of ";
  for (std::size_t i = 0; i < cursor.streams().size(); ++i)
    head += (i ? "," : "") + cursor.streams()[i];
  head += "\n\n";
  const bool head_sent = co_await out.write(head);
  out.answered(200);
  if (!head_sent) co_return;
  http::Timer timer(out.executor());
  auto last_sent = std::chrono::steady_clock::now();
  const std::string heartbeat = ": heartbeat\n\n";
  for (;;) {
    Chunk chunk = co_await tail_work_.run([&cursor] {
      Chunk c{std::string()};
      c.text = cursor.next(kEventsPerWrite, c.read);
      c.lag = cursor.lag();
      return c;
    });
    if (!chunk.text) {
      std::string why = "the log cannot be read: " + chunk.text.error().message;
      co_await drop(out, std::move(why));
      co_return;
    }
    if (chunk.lag > kMaxTailLag) {
      std::string why = fmt::format(
          "the client reads too slowly: {} events behind (the limit is {}); reconnect to "
          "follow from now",
          chunk.lag, kMaxTailLag);
      co_await drop(out, std::move(why));
      co_return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!chunk.text.value().empty()) {
      if (!co_await out.write(chunk.text.value())) {
        if (out.timed_out()) {
          std::string why = fmt::format("the client took no data for {} ms (server.body_timeout)",
                                        server.body_timeout.count());
          co_await drop(out, std::move(why));
        }
        co_return;
      }
      last_sent = now;
    } else if (now - last_sent >= cursor.heartbeat()) {
      if (!co_await out.write(heartbeat)) co_return;
      last_sent = now;
    }
    if (chunk.read >= kEventsPerWrite) continue;  // more is waiting
    if (out.draining()) co_return;                // the client reconnects (`retry`)
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(http::kTuple);
  }
}
#pragma GCC diagnostic pop

}  // namespace sluice::query
