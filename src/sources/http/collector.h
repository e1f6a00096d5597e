#pragma once
// The collector's routes: POST /v1/streams/{stream}/events, POST /v1/forms/{form} and the
// configured compatibility paths (`routes:`) store events, once durable in the log, and answer
// 202 with the counts; OPTIONS answers the CORS preflight. Who may post (write keys, HMAC
// signatures, origins, per-key rate limits) is settled on the headers, before the body is
// read. Rejected events go to the stream's dead-letter stream.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "config/config.h"
#include "http/rate_limiter.h"
#include "http/router.h"
#include "log/log.h"
#include "sources/http/collector_metrics.h"
#include "sources/http/ingest.h"
#include "sources/http/stream_policy.h"

namespace sluice::collector {

// How a path's posts are read and answered beyond its stream's settings. Paths of other
// owners (the analytics SDKs' endpoints) keep theirs for as long as the routes live.
struct PathOptions {
  const BodyFormat* format = nullptr;  // null: the stream's own
  bool form = false;                   // a form endpoint: text fields are always cleaned
  bool credentials = false;            // CORS answers let browsers send cookies
  bool query_body = false;             // a GET whose query is the event (a pixel)
  unsigned accepted_status = 202;      // the status of an accepted post
};
// What a request's headers would say, given otherwise (a pixel's query as a form body, a
// compression named in the query).
struct BodyOverride {
  std::optional<BodyKind> kind;
  std::string encoding;
  // A body that starts as gzip does is inflated though no header says so (posthog-js
  // compresses its text/plain posts and says nothing). No JSON or form starts that way.
  bool gzip_magic = false;
};

class Collector {
 public:
  // Throws std::runtime_error on a stream whose rules do not compile (which the config check
  // refuses first).
  Collector(const Config& config, log::Log& log);
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  void add_routes(http::Router& router);
  CollectorMetrics& metrics() { return metrics_; }
  const CollectorMetrics& metrics() const { return metrics_; }

  // The parts of a collector path, for other owners' routes: the refusal on the headers
  // (nullopt: read the body), the POST itself and the CORS preflight.
  std::optional<http::Reply> refuse_before_body(const http::Request& header,
                                                const std::string& stream, const PathOptions& path);
  http::Task<http::Reply> ingest(http::Request& req, std::string stream, std::string client_ip,
                                 const PathOptions& path, BodyOverride body = BodyOverride());
  http::Reply preflight(const http::Request& req, const std::string& stream,
                        const PathOptions& path) const;

 private:
  // What a POST to a stream needs, found with one lookup per request.
  struct Target {
    const StreamConfig* stream;
    const StreamPolicy* policy;
    StreamCounters* counters;
    bool accepts_posts;  // false for the streams Sluice writes itself (Config::accepts_posts)
    BodyFormat format;   // the stream's own field names and envelopes
  };
  // A request's events, parsed and checked, ready to be appended.
  struct Parsed {
    const StreamConfig* stream = nullptr;  // where the events go (a bot stream, maybe)
    StreamCounters* counters = nullptr;
    std::int64_t received_at_ms = 0;
    IngestBatch batch;
    std::string set_cookie;  // the id cookie, for the answer
  };

  http::Task<http::Reply> collect(http::Request& req, std::string stream, const http::Call& call,
                                  const PathOptions& path);
  std::optional<http::Reply> refuse_signature_time(const http::Request& header,
                                                   const StreamConfig& stream) const;
  std::optional<http::Reply> admit(const http::Request& req, const StreamConfig& stream);
  std::variant<http::Reply, Parsed> parse(http::Request& req, const std::string& stream,
                                          const std::string& client_ip, const PathOptions& path,
                                          const BodyOverride& body);
  http::Task<void> keep_dead_letters(const std::string& stream, const Parsed& events);
  void finish(const http::Request& req, const std::string& stream, const PathOptions& path,
              http::Reply& res);

  const Config& config_;
  log::Log& log_;
  CollectorMetrics metrics_;
  std::map<std::string, std::shared_ptr<const StreamPolicy>> policies_;  // by stream
  std::unordered_map<std::string, Target> targets_;                      // by stream
  http::RateLimiter per_key_;
  const PathOptions events_path_{};
  const PathOptions form_path_{.form = true};
  std::map<std::string, PathOptions> route_paths_;  // by route name
};

}  // namespace sluice::collector
