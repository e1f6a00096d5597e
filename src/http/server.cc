#include "http/server.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "core/thread_name.h"
#include "http/completion_inbox.h"
#include "http/connection.h"
#include "http/connection_drain.h"
#include "http/probes.h"
#include "http/rate_limiter.h"
#include "http/read_access.h"
#include "http/read_deadline.h"
#include "http/request_metrics.h"
#include "http/tls_context.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Each context runs on one thread and its sockets are used from that thread only (the
// acceptor on the first thread only registers a new socket with its context, and that
// registration keeps its lock), so the reactor's per-socket locks can go; posting to a context
// from other threads (log completions, stop()) keeps the scheduler's lock.
std::vector<std::unique_ptr<asio::io_context>> make_contexts(int count) {
  std::vector<std::unique_ptr<asio::io_context>> out;
  for (int i = 0; i < std::max(count, 1); ++i)
    out.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
  return out;
}

std::vector<std::unique_ptr<ConnectionDrain>> make_drains(int count) {
  std::vector<std::unique_ptr<ConnectionDrain>> out;
  for (int i = 0; i < std::max(count, 1); ++i)
    out.push_back(std::make_unique<ConnectionDrain>());
  return out;
}

std::vector<std::unique_ptr<CompletionInbox>> make_inboxes(
    const std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<std::unique_ptr<CompletionInbox>> out;
  out.reserve(contexts.size());
  for (const auto& context : contexts)
    out.push_back(std::make_unique<CompletionInbox>(*context));
  return out;
}

}  // namespace

struct Server::Impl {
  explicit Impl(const ServerConfig& config)
      : config(config),
        access(config),
        per_ip(config.rate_limit.per_ip, config.rate_limit.burst),
        read_per_ip(config.rate_limit.reads_per_ip, config.rate_limit.burst),
        acceptor(io),
        signals(io, SIGINT, SIGTERM) {
    probes.add_routes(router);
  }

  // `remote` is the peer's address as accept() returned it (asking the socket costs a system
  // call per connection). `drain` is the one of the connection's I/O thread. open_connections
  // was counted up for it by accept_loop.
  Task<void> session(Socket socket, tcp::endpoint remote, ConnectionDrain& drain) {
    struct Closed {
      std::atomic<int>& count;
      ~Closed() { count.fetch_sub(1, std::memory_order_relaxed); }
    } closed{open_connections};
    const std::string peer = remote.address().to_string();
    if (!tls) {
      co_await serve_connection(socket, peer, drain, *door);
      co_return;
    }
    // The context stays alive with the connection, whatever a reload does meanwhile.
    const std::shared_ptr<asio::ssl::context> context = tls->current();
    TlsStream stream(std::move(socket), *context);
    {
      // The handshake is bounded like a request's headers (a client that never finishes it).
      ConnectionDrain::Member member(drain, tcp_of(stream));
      ReadDeadline deadline(stream.get_executor(), tcp_of(stream));
      deadline.arm(config.header_timeout);
      auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
      deadline.disarm();
      if (error) {
        logger("http")->debug("TLS handshake failed peer={} error=\"{}\"", peer, error.message());
        co_return;
      }
    }
    co_await serve_connection(stream, peer, drain, *door);
  }

  // Over server.max_connections: a 503 written at once (a new socket's send buffer takes it
  // whole, so this does not wait), then closed without reading anything.
  void refuse_connection(Socket& socket) {
    beast::error_code ignored;
    if (tls) {  // no handshake for it: closed
      socket.close(ignored);
      request_metrics->observe(router.refused_early(), 503, std::chrono::nanoseconds(0));
      return;
    }
    const Reply res{
        .status = 503,
        .keep_alive = false,
        .headers = {{"Retry-After", "1"}},
        .body = error_json(fmt::format("{} connections are open, the most this server keeps "
                                       "(server.max_connections); try again later",
                                       config.max_connections))};
    const std::string answer = res.serialize();
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(answer), ignored);
    socket.shutdown(Socket::shutdown_send, ignored);
    socket.close(ignored);
    request_metrics->observe(router.refused_early(), 503, std::chrono::nanoseconds(0));
  }

  Task<void> accept_loop() {
    for (;;) {
      // Connections are dealt round-robin to the I/O threads, each with an io_context of its
      // own: a connection's coroutine, its read deadline and its log completions all run on
      // one thread, without locks.
      const std::size_t index = next_context++ % contexts.size();
      auto& context = *contexts[index];
      tcp::endpoint remote;
      auto [error, socket] = co_await acceptor.async_accept(context.get_executor(), remote, kTuple);
      if (error == asio::error::operation_aborted) co_return;
      if (error) {
        logger("http")->warn("accept failed error=\"{}\"", error.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      const int max_connections = config.max_connections;
      if (max_connections > 0 &&
          open_connections.load(std::memory_order_relaxed) >= max_connections) {
        refuse_connection(socket);
        continue;
      }
      // Counted here, in accept order, not when the session starts on its thread.
      open_connections.fetch_add(1, std::memory_order_relaxed);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket), remote, *drains[index]), asio::detached);
    }
  }

  Task<void> tick() {
    Timer timer(io.get_executor());
    for (;;) {
      for (const auto& tick : ticks)
        tick();
      timer.expires_after(std::chrono::seconds(1));
      auto [error] = co_await timer.async_wait(kTuple);
      if (error) co_return;
    }
  }

  // Stops taking connections and lets each I/O thread drain its own; the threads stop when
  // all are drained or the timeout passes. On the first context's thread.
  void begin_stop() {
    if (stopping) return;
    stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    // A second SIGINT or SIGTERM (Ctrl-C again) does not wait for the requests in progress.
    signals.cancel(ignored);  // the first wait, if stop() came from elsewhere
    signals.async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      logger("http")->warn("signal={} again: closing the connections of requests in progress",
                           signal);
      stop_contexts();
    });
    for (std::size_t i = 0; i < contexts.size(); ++i) {
      asio::post(*contexts[i], [this, i] {
        drains[i]->begin([this] { asio::post(io, [this] { context_drained(); }); });
      });
    }
    stop_timer.expires_after(config.stop_timeout);
    stop_timer.async_wait([this](const boost::system::error_code& error) {
      if (error) return;  // every context drained in time
      logger("http")->warn(
          "server.stop_timeout ({} ms) passed with requests still in progress: closing their "
          "connections",
          config.stop_timeout.count());
      stop_contexts();
    });
  }
  void context_drained() {
    if (++drained_contexts == contexts.size()) stop_contexts();
  }
  void stop_contexts() {
    stop_timer.cancel();
    beast::error_code ignored;
    signals.cancel(ignored);
    for (auto& context : contexts)
      context->stop();
  }

  const ServerConfig& config;
  Router router;
  metrics::Registry metrics;
  health::Checks health;
  std::vector<std::function<void()>> ticks;
  ReadAccess access;
  RateLimiter per_ip;
  RateLimiter read_per_ip;  // GETs but /healthz and /readyz
  // Made when the server binds, once every route is known.
  std::unique_ptr<RequestMetrics> request_metrics;
  std::optional<FrontDoor> door;
  std::atomic<int> open_connections{0};  // sessions running, on every I/O thread
  // server.tls: the certificate new connections get; null for plain HTTP.
  std::unique_ptr<TlsContext> tls =
      config.tls.enabled() ? std::make_unique<TlsContext>(config.tls) : nullptr;
  // One per I/O thread, outliving the contexts: the sessions a stopped context still holds
  // leave their drain when the context is destroyed.
  std::vector<std::unique_ptr<ConnectionDrain>> drains = make_drains(config.io_threads);
  // One io_context per I/O thread (concurrency hint 1); the first also runs the acceptor and
  // the signal handler.
  std::vector<std::unique_ptr<asio::io_context>> contexts = make_contexts(config.io_threads);
  std::vector<std::unique_ptr<CompletionInbox>> inboxes = make_inboxes(contexts);  // one each
  std::size_t next_context = 0;
  asio::io_context& io = *contexts.front();
  tcp::acceptor acceptor;
  asio::signal_set signals;
  // Stopping, on the first context's thread: how many contexts have no connection left, and
  // the limit on waiting for them (server.stop_timeout).
  bool stopping = false;
  std::size_t drained_contexts = 0;
  Timer stop_timer{io.get_executor()};
  // After the contexts, so destroyed before them: their work resumes on a live context.
  std::vector<std::unique_ptr<WorkPool>> pools;
  WorkPool& add_pool(std::size_t threads) {
    return *pools.emplace_back(std::make_unique<WorkPool>(threads));
  }
  WorkPool& status_work = add_pool(1);
  Probes probes{health, metrics, status_work, add_pool(1)};
};

Server::Server(const ServerConfig& config) : impl_(std::make_unique<Impl>(config)) {}

Server::~Server() = default;

Router& Server::routes() {
  return impl_->router;
}
metrics::Registry& Server::metrics() {
  return impl_->metrics;
}
health::Checks& Server::health() {
  return impl_->health;
}
WorkPool& Server::status_work() {
  return impl_->status_work;
}
WorkPool& Server::add_pool(std::size_t threads) {
  return impl_->add_pool(threads);
}
void Server::every_second(std::function<void()> tick) {
  impl_->ticks.push_back(std::move(tick));
}

unsigned short Server::bind() {
  auto& impl = *impl_;
  if (!impl.request_metrics) {
    impl.request_metrics = std::make_unique<RequestMetrics>(impl.router.labels());
    impl.metrics.add([&impl](metrics::Families& f) { impl.request_metrics->collect(f); });
    impl.door.emplace(FrontDoor{.config = impl.config,
                                .router = impl.router,
                                .access = impl.access,
                                .per_ip = impl.per_ip,
                                .read_per_ip = impl.read_per_ip,
                                .metrics = *impl.request_metrics});
  }
  const auto& listen = impl.config.listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  tcp::resolver resolver(impl.io);
  auto endpoints = resolver.resolve(host, std::to_string(port));
  tcp::endpoint endpoint = *endpoints.begin();
  auto& acceptor = impl.acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor.local_endpoint().port();
}

void Server::run() {
  auto& impl = *impl_;
  impl.signals.async_wait([this](const boost::system::error_code& error, int signal) {
    if (!error) {
      logger("http")->info("signal={} stopping", signal);
      stop();
    }
  });
  asio::co_spawn(impl.io, impl.accept_loop(), asio::detached);
  asio::co_spawn(impl.io, impl.tick(), asio::detached);
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  keep_running.reserve(impl.contexts.size());
  for (auto& context : impl.contexts)
    keep_running.push_back(asio::make_work_guard(*context));
  std::vector<std::thread> threads;
  threads.reserve(impl.contexts.size());
  for (std::size_t i = 1; i < impl.contexts.size(); ++i) {
    threads.emplace_back([context = impl.contexts[i].get(), inbox = impl.inboxes[i].get(), i] {
      name_this_thread(fmt::format("sluice-http-{}", i).c_str());
      CompletionInbox::current() = inbox;
      context->run();
    });
  }
  CompletionInbox::current() = impl.inboxes.front().get();
  impl.io.run();
  for (auto& t : threads)
    t.join();
  // Connections a timed-out stop left open go when their context is destroyed, with no
  // thread left to tell.
  for (auto& drain : impl.drains)
    drain->cancel();
  // Work in progress (a tail's read, a store query) finishes before the caller closes the log
  // and the store, and before the I/O contexts go away.
  for (auto& pool : impl.pools)
    pool->stop();
}

bool Server::reload_tls() {
  if (!impl_->tls) return false;
  if (auto reloaded = impl_->tls->reload(); !reloaded) {
    logger("http")->error("TLS certificate not reloaded, the current one stays: {}",
                          reloaded.error().message);
    return false;
  }
  logger("http")->info("TLS certificate reloaded cert_file={}", impl_->config.tls.cert_file);
  return true;
}

void Server::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_stop(); });
}

}  // namespace sluice::http
