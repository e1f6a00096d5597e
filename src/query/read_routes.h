#pragma once
// The query API's routes: GET /v1/events, /v1/events/{id}, /v1/streams, /v1/dead-letters,
// /v1/alerts, /v1/stats and /v1/windows/{name} (a window's results), and the live tail
// GET /v1/tail. Store queries run on threads of their own (one per read connection), so a
// slow store never holds up an I/O thread. Documented in docs/http-api.md.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/server.h"
#include "log/log.h"
#include "query/events_query.h"
#include "query/store_reader.h"

namespace sluice {
class Processor;
namespace windows {
class WindowSet;
}
}  // namespace sluice

namespace sluice::query {

// What a process reads from; the parts a role does not run are null, and their routes answer
// 404 saying where to ask.
struct ReadParts {
  const Config& config;
  log::Log& log;
  StoreReader* reader = nullptr;                // null in the collector role
  const Processor* store = nullptr;             // only in sluice run
  const windows::WindowSet* windows = nullptr;  // only in sluice run
  // The collector's counts for GET /v1/streams (query/streams_status.h).
  std::function<void(std::string& out, const std::string& stream)> intake;
};

class ReadRoutes {
 public:
  ReadRoutes(ReadParts parts, http::Server& server);
  ReadRoutes(const ReadRoutes&) = delete;
  ReadRoutes& operator=(const ReadRoutes&) = delete;

  void add_routes(http::Router& router);

 private:
  http::Task<http::Reply> events(http::Request& req, const http::Call& call);
  // routes.<name> with protocol events-api: the tracking API's GET /events over `stream`.
  http::Task<http::Reply> events_api(http::Request& req, const http::Call& call,
                                     const std::string& stream);
  http::Task<http::Reply> event(http::Request& req, const http::Call& call);
  http::Task<http::Reply> streams(http::Request& req, const http::Call& call);
  http::Task<http::Reply> view(http::Request& req, const http::Call& call, const StreamView& view);
  http::Task<http::Reply> stats(http::Request& req, const http::Call& call);
  http::Task<http::Reply> window_results(http::Request& req, const http::Call& call);
  http::Task<http::Reply> sql(http::Request& req, const http::Call& call);  // sql_route.cc
  http::Task<void> tail(http::Request& req, const http::Call& call, http::AnswerStream& out);

  ReadParts parts_;
  http::WorkPool& status_work_;
  http::WorkPool& store_work_;  // store queries: as many threads as read connections
  http::WorkPool& tail_work_;   // tails' reads, apart: however many are open, the rest goes on
  std::vector<std::string> stream_list_;
  StreamView dead_letters_;  // GET /v1/dead-letters reads these streams
  StreamView alerts_;        // GET /v1/alerts
  std::map<std::string, std::vector<std::string>> stats_fields_;  // by stream
  std::atomic<std::int64_t> tail_clients_{0};
};

// A query parameter list without the read token.
Params query_params(const boost::urls::url_view& url);

}  // namespace sluice::query
