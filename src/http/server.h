#pragma once
// The front door: the process's one HTTP server (Boost.Beast on Asio, C++20 coroutines).
// Keep-alive connections served by `server.io_threads` threads, with header, body and idle
// timeouts, a body size limit, TLS, rate limits by address, read tokens, and a graceful stop.
// It knows no route of its own but the probes (/healthz, /readyz, /metrics): the parts of the
// process register theirs (app/ assembles them), and their metrics and readiness checks.
// Documented in docs/http-api.md.

#include <functional>
#include <memory>

#include "health/readiness.h"
#include "http/router.h"
#include "http/server_settings.h"
#include "http/work_pool.h"
#include "metrics/registry.h"

namespace sluice::http {

class Server {
 public:
  explicit Server(const ServerConfig& config);
  ~Server();

  // Registered before bind(); read, not guarded, while serving.
  Router& routes();
  metrics::Registry& metrics();
  health::Checks& health();
  // A thread for status pages and metrics that may wait (a Kafka end-offset query): an I/O
  // thread never waits for the brokers.
  WorkPool& status_work();
  // Threads of a part's own (the query API's store queries, the tails' reads), stopped when
  // the server stops: work in progress finishes before run() returns.
  WorkPool& add_pool(std::size_t threads);
  // Runs `tick` about once a second on an I/O thread while serving.
  void every_second(std::function<void()> tick);

  // Binds the listen address; returns the bound port (useful with port 0). Throws on failure.
  unsigned short bind();
  // Serves until stop() or SIGINT/SIGTERM; returns after every I/O thread has finished.
  void run();
  void stop();
  // server.tls: reads the certificate and key again (SIGHUP); new connections get them. False
  // (and logged) when TLS is off or the files do not load; the current certificate stays.
  bool reload_tls();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::http
