#pragma once
// The HTTP server (Boost.Beast on Asio, C++20 coroutines): keep-alive connections served by
// `server.io_threads` threads, with header, body and idle timeouts and a body size limit.
//
// Routes:
//   POST /v1/streams/{stream}/events   collector (sources/http/ingest.h); 202 once durable
//   GET  /v1/events                    query API (query/events_query.h)
//   GET  /v1/pipelines                 each pipeline's state, lag and counts
//   GET  /v1/windows                   each window definition's state, watermark and counts
//   GET  /v1/windows/{name}            a window definition's results
//   GET  /healthz                      liveness
//   GET  /readyz                       log, store and pipelines working, with detail
//   GET  /metrics                      Prometheus metrics (metrics/metrics.h)
// Documented in docs/http-api.md.
//
// The server owns its io_context; appends wait for the log without blocking an I/O thread.

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "log/log.h"
#include "pipeline/pipeline.h"
#include "processor/processor.h"
#include "query/store_reader.h"
#include "windows/window_job.h"

namespace sluice::http {

// What the process runs besides the collector. The collector role has none of it: the routes
// of the missing parts answer 404. The api role has a reader and no ingest.
struct ServedParts {
  query::StoreReader* reader = nullptr;
  bool ingest = true;  // the collector's routes
  const Processor* store = nullptr;
  const pipeline::PipelineSet* pipelines = nullptr;
  const windows::WindowSet* windows = nullptr;
};

class Server {
 public:
  Server(const Config& config, log::Log& log, ServedParts parts = {});
  ~Server();

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
