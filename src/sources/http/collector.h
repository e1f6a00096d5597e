#pragma once
// The collector's routes: POST /v1/streams/{stream}/events, POST /v1/forms/{form} and the
// configured compatibility paths (`routes:`) store events, once durable in the log, and answer
// 202 with the counts; OPTIONS answers the CORS preflight. Who may post (write keys, HMAC
// signatures, origins, per-key rate limits) is settled on the headers, before the body is
// read. Rejected events go to the stream's dead-letter stream.

#include <map>
#include <memory>
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

 private:
  // What a POST to a stream needs, found with one lookup per request.
  struct Target {
    const StreamConfig* stream;
    const StreamPolicy* policy;
    StreamCounters* counters;
    bool accepts_posts;  // false for the streams Sluice writes itself (Config::accepts_posts)
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
                                  bool form);
  std::optional<http::Reply> refuse_before_body(const http::Request& header,
                                                const std::string& stream, bool form);
  std::optional<http::Reply> refuse_signature_time(const http::Request& header,
                                                   const StreamConfig& stream) const;
  std::optional<http::Reply> admit(const http::Request& req, const StreamConfig& stream);
  std::variant<http::Reply, Parsed> parse(http::Request& req, const std::string& stream,
                                          const std::string& client_ip, bool form);
  http::Task<http::Reply> ingest(http::Request& req, std::string stream, std::string client_ip,
                                 bool form);
  http::Task<void> keep_dead_letters(const std::string& stream, const Parsed& events);
  http::Reply preflight(const http::Request& req, const std::string& stream) const;
  void finish(const http::Request& req, const std::string& stream, http::Reply& res);

  const Config& config_;
  log::Log& log_;
  CollectorMetrics metrics_;
  std::map<std::string, std::shared_ptr<const StreamPolicy>> policies_;  // by stream
  std::unordered_map<std::string, Target> targets_;                      // by stream
  http::RateLimiter per_key_;
};

}  // namespace sluice::collector
