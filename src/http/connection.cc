#include "http/connection.h"

#include <fmt/format.h>

#include <array>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "http/read_deadline.h"
#include "http/request_reader.h"
#include "http/target.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// Request line and headers together; browsers send well under 8 KiB even with cookies.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// Room a connection's read buffer keeps between requests.
constexpr std::size_t kKeptBuffer = std::size_t{16} * 1024;

// The client's address: the peer, or the last X-Forwarded-For hop behind a trusted proxy.
std::string client_ip(const Request& req, const std::string& peer, bool trust_forwarded_for) {
  if (!trust_forwarded_for) return peer;
  auto forwarded = req["X-Forwarded-For"];
  if (forwarded.empty()) return peer;
  auto last = std::string_view(forwarded.data(), forwarded.size());
  last = last.substr(last.rfind(',') == std::string_view::npos ? 0 : last.rfind(',') + 1);
  while (!last.empty() && last.front() == ' ')
    last.remove_prefix(1);
  return last.empty() ? peer : std::string(last);
}

// Orchestrators probe these often, from one address: never rate-limited.
bool is_probe(beast::string_view target) {
  return target == "/healthz" || target == "/readyz";
}

// Whether `method` is one of `allow` ("POST, OPTIONS").
bool allows(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    const auto comma = allow.find(',');
    auto one = allow.substr(0, comma);
    while (!one.empty() && one.front() == ' ')
      one.remove_prefix(1);
    if (one == method) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 1);
  }
  return false;
}

// A request as routed, decided on its headers (before its body is read).
struct Routed {
  std::optional<Router::Match> match;
  Call call;
  bool malformed = false;  // a target that is not a URL
};

Routed route_of(const Request& header, const std::string& peer, const FrontDoor& door) {
  Routed routed;
  const std::string_view target(header.target().data(), header.target().size());
  std::string_view path = target;
  if (!is_plain_path(target)) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) {
      routed.malformed = true;
      return routed;
    }
    routed.call.url = *parsed;
    // Routes have no characters that need percent-decoding; an encoded path simply matches
    // no route.
    path = routed.call.url.encoded_path();
  }
  routed.call.path = path;
  routed.match = door.router.match(path);
  if (routed.match) routed.call.param = routed.match->param;
  routed.call.client_ip = client_ip(header, peer, door.config.trust_forwarded_for);
  return routed;
}

// The checks of a matched route before its handler: the method, then read access.
std::optional<Reply> admit(const Request& req, const Routed& routed, const FrontDoor& door) {
  const Route& route = *routed.match->route;
  const auto method = req.method_string();
  if (!route.allow.empty() &&
      !allows(route.allow, std::string_view(method.data(), method.size()))) {
    return method_not_allowed(req, route.allow);
  }
  if (route.access == Access::kRead) return door.access.check(req, routed.call.url);
  return std::nullopt;
}

// The answer to a routed request; `route` is set to the route that answered (for the
// metrics). Not a coroutine: the collector's handler returns ingest's own, and each coroutine
// frame more cost an allocation and a resumption per request.
Task<Reply> dispatch(Request& req, const Routed& routed, const FrontDoor& door,
                     std::size_t& route) {
  route = door.router.no_route();
  if (routed.malformed) {
    return ready(error_answer(req, make_error(Errc::kInvalidInput, "malformed URL")));
  }
  if (!routed.match) {
    return ready(error_answer(
        req, make_error(Errc::kNotFound, fmt::format("no route {}", routed.call.path))));
  }
  route = routed.match->index;
  if (auto refused = admit(req, routed, door)) return ready(std::move(*refused));
  return routed.match->route->handler(req, routed.call);
}

// An answer written over time, on the connection it ends.
template <class Stream>
class StreamAnswer final : public AnswerStream {
 public:
  StreamAnswer(Stream& stream, ReadDeadline& deadline, const ConnectionDrain& drain,
               FrontDoor& door, std::size_t route, std::chrono::steady_clock::time_point started)
      : stream_(stream),
        deadline_(deadline),
        drain_(drain),
        door_(door),
        route_(route),
        started_(started) {}

  Task<bool> write(std::string_view text) override {
    deadline_.arm(door_.config.body_timeout);
    auto [error, n] = co_await asio::async_write(stream_, asio::buffer(text), kTuple);
    deadline_.disarm();
    co_return !error;
  }
  bool timed_out() const override { return deadline_.expired(); }
  bool draining() const override { return drain_.draining(); }
  void answered(unsigned status) override {
    door_.metrics.observe(route_, status, std::chrono::steady_clock::now() - started_);
  }
  IoExecutor executor() const override { return stream_.get_executor(); }

 private:
  Stream& stream_;
  ReadDeadline& deadline_;
  const ConnectionDrain& drain_;
  FrontDoor& door_;
  std::size_t route_;
  std::chrono::steady_clock::time_point started_;
};

std::string body_limit_message(const ServerConfig& config) {
  return fmt::format("request body is over the limit of {} bytes (server.max_body_bytes)",
                     config.max_body_bytes);
}

// Answers a request whose body is not read, then closes. The client may still be sending (a
// body over the limit): what it sends is read and dropped for a moment, so that closing does
// not reset the connection and destroy the answer before the client has read it.
template <class Stream>
Task<void> send_and_close(Stream& stream, ReadDeadline& deadline, FrontDoor& door, Reply res) {
  res.keep_alive = false;
  const unsigned status = res.status;
  const std::string text = res.serialize();
  const auto started = std::chrono::steady_clock::now();
  deadline.arm(door.config.body_timeout);
  auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(text), kTuple);
  deadline.disarm();
  // Counted under one route label: these requests never reached their handler.
  door.metrics.observe(door.router.refused_early(), status,
                       std::chrono::steady_clock::now() - started);
  if (write_error) co_return;
  beast::error_code ignored;
  tcp_of(stream).shutdown(Socket::shutdown_send, ignored);
  constexpr std::size_t kMaxDiscard = 64 << 20;
  std::array<char, 16384> sink{};
  std::size_t discarded = 0;
  deadline.arm(std::chrono::seconds(2));
  while (discarded < kMaxDiscard) {
    auto [read_error, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (read_error) break;
    discarded += n;
  }
  deadline.disarm();
}

template <class Stream>
Task<void> send_error(Stream& stream, ReadDeadline& deadline, FrontDoor& door, unsigned status,
                      const std::string& message,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  // A named local, not a temporary in the co_await: GCC 12 destroyed such a temporary twice.
  Reply res{.status = status,
            .keep_alive = false,
            .headers = std::move(headers),
            .body = error_json(message)};
  co_await send_and_close(stream, deadline, door, std::move(res));
}

// `setting`: per_ip or reads_per_ip.
std::string rate_limit_message(const ServerConfig& config, const std::string& address, bool post,
                               int wait_seconds) {
  const auto& limit = config.rate_limit;
  return fmt::format(
      "rate limit exceeded for address {} (server.rate_limit.{}: {} requests per second, burst "
      "{}); retry in {} s",
      address, post ? "per_ip" : "reads_per_ip", post ? limit.per_ip : limit.reads_per_ip,
      limit.burst, wait_seconds);
}

}  // namespace

template <class Stream>
Task<void> serve_connection(Stream& stream, const std::string& peer, ConnectionDrain& drain,
                            FrontDoor& door) {
  const ServerConfig& config = door.config;
  // A plain socket, not beast::tcp_stream: its per-operation timer machinery costs more
  // than the deadline below, which covers reads and writes alike.
  ConnectionDrain::Member member(drain, tcp_of(stream));
  ReadDeadline deadline(stream.get_executor(), tcp_of(stream));
  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    if (drain.draining()) break;  // stopping: no further requests on this connection
    RequestParser parser;
    parser.body_limit(config.max_body_bytes);
    parser.header_limit(kHeaderLimit);
    // Waiting for a request to begin: header_timeout on a new connection, idle_timeout
    // between requests on a kept-alive one. Silence then just closes the connection.
    if (buffer.size() == 0) {
      deadline.arm(first ? config.header_timeout : config.idle_timeout);
      member.set_idle(true);
      auto [read_error, n] =
          co_await stream.async_read_some(buffer.prepare(beast::read_size(buffer, 65536)), kTuple);
      member.set_idle(false);
      deadline.disarm();
      if (read_error) co_return;
      buffer.commit(n);
    }
    first = false;
    // From its first byte a request's headers must be in within header_timeout (slowloris).
    deadline.arm(config.header_timeout);
    auto header_error = parse_buffered(parser, buffer, ReadUntil::kHeader);
    if (header_error == bhttp::error::need_more) {
      header_error = co_await read_rest(stream, buffer, parser, ReadUntil::kHeader);
    }
    deadline.disarm();
    if (header_error) {
      if (header_error == bhttp::error::body_limit) {
        co_await send_error(stream, deadline, door, 413, body_limit_message(config));
      } else if (header_error == bhttp::error::header_limit) {
        co_await send_error(stream, deadline, door, 431,
                            fmt::format("the request line and headers are over the limit of "
                                        "{} bytes",
                                        kHeaderLimit));
      } else if (deadline.expired()) {
        // Part of a request arrived, too slowly (slowloris).
        co_await send_error(stream, deadline, door, 408,
                            fmt::format("the request headers took longer than {} ms "
                                        "(server.header_timeout)",
                                        config.header_timeout.count()));
      } else if (header_error != bhttp::error::end_of_stream && header_error != asio::error::eof &&
                 header_error != asio::error::connection_reset &&
                 header_error != asio::error::operation_aborted) {
        co_await send_error(stream, deadline, door, 400,
                            "malformed HTTP request: " + header_error.message());
      }
      co_return;
    }
    const auto started = std::chrono::steady_clock::now();
    // The request is used where the parser holds it: its target, which the routing's views
    // point into, stays where it is while the body is read.
    Request& req = parser.get();
    // Before the body is read: a client over its limit does not get to send it. Posts
    // count against per_ip; reads (all but the probes) against reads_per_ip.
    const bool post = req.method() == bhttp::verb::post;
    RateLimiter& limiter = post ? door.per_ip : door.read_per_ip;
    if (limiter.enabled() && (post || !is_probe(req.target()))) {
      const std::string address = client_ip(req, peer, config.trust_forwarded_for);
      if (int wait = limiter.take(address)) {
        std::vector<std::pair<std::string, std::string>> retry_after;
        retry_after.emplace_back(std::string("Retry-After"), std::to_string(wait));
        const std::string message = rate_limit_message(config, address, post, wait);
        co_await send_error(stream, deadline, door, 429, message, std::move(retry_after));
        co_return;
      }
    }
    const Routed routed = route_of(req, peer, door);
    if (routed.match && routed.match->route->precheck) {
      if (auto refused = routed.match->route->precheck(req, routed.call)) {
        co_await send_and_close(stream, deadline, door, std::move(*refused));
        co_return;
      }
    }
    if (post && !parser.content_length() && !parser.chunked()) {
      co_await send_error(stream, deadline, door, 411,
                          "a POST needs a Content-Length header or chunked Transfer-Encoding");
      co_return;
    }
    // curl and other clients wait (curl: one second) for this before sending a large body.
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
      deadline.arm(config.body_timeout);
      auto [continue_error, n] = co_await bhttp::async_write(stream, go_on, kTuple);
      deadline.disarm();
      if (continue_error) co_return;
    }
    // The body's room from the start: its Content-Length (which the body limit has checked)
    // and the route's padding.
    if (auto length = parser.content_length(); length && *length > 0) {
      req.body().reserve(*length + (routed.match ? routed.match->route->body_padding : 0));
    }
    deadline.arm(config.body_timeout);
    auto body_error = parse_buffered(parser, buffer, ReadUntil::kMessage);
    if (body_error == bhttp::error::need_more) {
      body_error = co_await read_rest(stream, buffer, parser, ReadUntil::kMessage);
    }
    deadline.disarm();
    // A large body's room is not kept for the rest of an idle connection's life.
    if (buffer.size() == 0 && buffer.capacity() > kKeptBuffer) buffer.shrink_to_fit();
    if (body_error) {
      if (body_error == bhttp::error::body_limit) {
        co_await send_error(stream, deadline, door, 413, body_limit_message(config));
      } else if (deadline.expired()) {
        co_await send_error(stream, deadline, door, 408,
                            fmt::format("the request body took longer than {} ms "
                                        "(server.body_timeout)",
                                        config.body_timeout.count()));
      }
      co_return;
    }
    if (routed.match && routed.match->route->stream && !admit(req, routed, door)) {
      // The connection becomes the answer; it ends with it.
      StreamAnswer<Stream> answer(stream, deadline, drain, door, routed.match->index, started);
      co_await routed.match->route->stream(req, routed.call, answer);
      co_return;
    }
    std::size_t route = 0;
    Reply res = co_await dispatch(req, routed, door, route);
    if (drain.draining()) res.keep_alive = false;  // the answer, then the connection closes
    deadline.arm(config.body_timeout);
    const std::string text = res.serialize();
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(text), kTuple);
    deadline.disarm();
    door.metrics.observe(route, res.status, std::chrono::steady_clock::now() - started);
    if (write_error || !res.keep_alive) break;
  }
  beast::error_code ignored;
  tcp_of(stream).shutdown(Socket::shutdown_send, ignored);
}

template Task<void> serve_connection(Socket&, const std::string&, ConnectionDrain&, FrontDoor&);
template Task<void> serve_connection(TlsStream&, const std::string&, ConnectionDrain&, FrontDoor&);

}  // namespace sluice::http
