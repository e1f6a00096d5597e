#include "sources/http/server.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/url.hpp>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/json_text.h"
#include "core/logging.h"
#include "core/signature.h"
#include "core/thread_name.h"
#include "core/time.h"
#include "health/readiness.h"
#include "metrics/http_metrics.h"
#include "metrics/metrics.h"
#include "query/events_query.h"
#include "query/stats_query.h"
#include "query/streams_status.h"
#include "query/tail_cursor.h"
#include "query/window_results.h"
#include "sources/http/completion_inbox.h"
#include "sources/http/connection_drain.h"
#include "sources/http/dead_letter.h"
#include "sources/http/decompress.h"
#include "sources/http/ingest.h"
#include "sources/http/io_types.h"
#include "sources/http/rate_limiter.h"
#include "sources/http/read_deadline.h"
#include "sources/http/reply.h"
#include "sources/http/request_reader.h"
#include "sources/http/stream_policy.h"
#include "sources/http/tls_context.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// A connection is a Socket, or a TLS stream over one (server.tls).
using TlsStream = asio::ssl::stream<Socket>;
// The TCP socket under a connection, for its deadline, its drain and its shutdown.
Socket& tcp_of(Socket& stream) {
  return stream;
}
Socket& tcp_of(TlsStream& stream) {
  return stream.next_layer();
}
using tcp = asio::ip::tcp;
using Request = bhttp::request<bhttp::string_body>;
using Response = Reply;
// Request line and headers together; browsers send well under 8 KiB even with cookies.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// What an append's callbacks share: the suspended coroutine's handler and the answer for it.
// One allocation per append; the log's callbacks hold only its address, which std::function
// keeps without allocating (a shared_ptr or a captured result made each of them allocate).
template <class Handler>
struct AppendWait final : InboxWork {
  AppendWait(Handler handler, CompletionInbox* inbox, metrics::Histogram* latency)
      : handler(std::move(handler)),
        inbox(inbox),
        latency(latency),
        started(std::chrono::steady_clock::now()) {}

  Handler handler;
  CompletionInbox* inbox;
  metrics::Histogram* latency;
  std::chrono::steady_clock::time_point started;
  Result<void> result = boost::outcome_v2::success();

  // On the log's thread: notes the result and hands the wait to the request's thread, which
  // resumes the request and frees it.
  static void finish(AppendWait* wait, Result<void>&& result) {
    wait->latency->observe_since(wait->started);
    wait->result = std::move(result);
    wait->inbox->push(std::unique_ptr<InboxWork>(wait));
  }
  void run() override { std::move(handler)(std::move(result)); }
};

// Appends the batches (one per partition) to the log and resumes the calling coroutine on its
// own I/O thread once all are durable (or one failed). The log thread never runs request code.
// Called on an I/O thread.
template <class Token>
auto async_append(log::Log& log, const std::string& stream, std::vector<log::RecordBatch> batches,
                  metrics::Histogram& latency, Token&& token) {
  return asio::async_initiate<Token, void(Result<void>)>(
      [&log, &stream, &latency, batches = std::move(batches)](auto handler) mutable {
        using Wait = AppendWait<decltype(handler)>;
        auto* wait = new Wait(std::move(handler), CompletionInbox::current(), &latency);
        if (auto only = log::only_partition(batches)) {
          log.append(log::Partition(stream, *only), std::move(batches[*only]),
                     [wait](Result<log::Offset> offset) {
                       if (offset) {
                         Wait::finish(wait, boost::outcome_v2::success());
                       } else {
                         Wait::finish(wait, offset.error());
                       }
                     });
          return;
        }
        log::append_partitions(log, stream, std::move(batches), [wait](Result<void> result) {
          Wait::finish(wait, std::move(result));
        });
      },
      token);
}

unsigned status_for(Errc code) {
  switch (code) {
    case Errc::kInvalidInput:
      return 400;
    case Errc::kNotFound:
      return 404;
    case Errc::kTooLarge:
      return 413;
    case Errc::kUnauthorized:
      return 401;
    case Errc::kForbidden:
      return 403;
    case Errc::kRateLimited:
      return 429;
    case Errc::kUnsupported:
      return 415;
    case Errc::kUnavailable:
      return 503;
    case Errc::kCorrupt:
    case Errc::kInternal:
      return 500;
  }
  return 500;
}

std::string error_json(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += "}";
  return out;
}

// "/" followed by unreserved characters and slashes only: nothing to parse or decode.
bool is_plain_path(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (char c : target) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (!plain) return false;
  }
  return true;
}

// The request target as a URL, for its query parameters: empty for a plain path (and for a
// target that does not parse, which routing has refused already). Coroutines take the request
// and call this rather than take a url_view parameter: a url_view points into itself, and
// passed by value to a coroutine (GCC 12) it still pointed into the caller's copy once that
// was gone.
template <class Message>
boost::urls::url_view target_url(const Message& req) {
  const std::string_view target(req.target().data(), req.target().size());
  if (is_plain_path(target)) return {};
  auto parsed = boost::urls::parse_origin_form(target);
  return parsed ? *parsed : boost::urls::url_view();
}

bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The key a client presents: Authorization: Bearer, X-Sluice-Key or ?key= (sendBeacon cannot
// set headers). Empty when none is given.
std::string presented_key(const Request& req, const boost::urls::url_view& url) {
  auto authorization = req[bhttp::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return std::string(authorization.substr(kBearer.size()));
  }
  if (auto key = req["X-Sluice-Key"]; !key.empty()) return std::string(key);
  if (url.has_query()) {
    if (auto it = url.params().find("key"); it != url.params().end()) return (*it).value;
  }
  return "";
}

// Route labels of the request metrics: one per route (templates, not paths, so the number of
// series stays fixed), then the compatibility routes' paths, then kNoRoute.
enum RouteId : std::size_t {
  kStreamEventsRoute,
  kFormRoute,
  kEventsRoute,
  kEventRoute,
  kPipelinesRoute,
  kWindowsRoute,
  kWindowRoute,
  kStreamsRoute,
  kDeadLettersRoute,
  kAlertsRoute,
  kTailRoute,
  kStatsRoute,
  kMetricsRoute,
  kHealthzRoute,
  kReadyzRoute,
  kRefusedEarly,  // answered before routing: slow, oversized, rate-limited or malformed requests
  kFixedRoutes
};
constexpr std::array<const char*, kFixedRoutes> kRouteLabels = {"/v1/streams/{stream}/events",
                                                                "/v1/forms/{form}",
                                                                "/v1/events",
                                                                "/v1/events/{id}",
                                                                "/v1/pipelines",
                                                                "/v1/windows",
                                                                "/v1/windows/{name}",
                                                                "/v1/streams",
                                                                "/v1/dead-letters",
                                                                "/v1/alerts",
                                                                "/v1/tail",
                                                                "/v1/stats",
                                                                "/metrics",
                                                                "/healthz",
                                                                "/readyz",
                                                                "(refused early)"};

// A collector path: the stream it posts to, whether as a form, and its metrics label.
struct CollectorPath {
  std::string stream;
  bool form = false;
  std::size_t route_id = 0;
};

std::vector<std::string> route_labels(const Config& config) {
  std::vector<std::string> labels(kRouteLabels.begin(), kRouteLabels.end());
  for (const auto& [name, route] : config.routes)
    labels.push_back(route.path);
  labels.emplace_back("(no route)");
  return labels;
}

// The streams that take dead letters (of streams and pipelines) and alerts (of alert rules),
// those configured as streams.
query::StreamView dead_letter_view(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, stream] : config.streams) {
    if (!stream.dead_letter.empty()) names.insert(stream.dead_letter);
  }
  for (const auto& [name, pipeline] : config.pipelines) {
    if (!pipeline.dead_letter.empty()) names.insert(pipeline.dead_letter);
  }
  if (config.streams.contains("dead_letters")) names.insert("dead_letters");
  query::StreamView view{{}, {{"source", "stream"}, {"pipeline", "pipeline"}, {"sink", "sink"}}};
  for (const auto& name : names) {
    if (config.streams.contains(name)) view.streams.push_back(name);
  }
  return view;
}

query::StreamView alert_view(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, alert] : config.alerts)
    names.insert(alert.stream);
  if (config.streams.contains("alerts")) names.insert("alerts");
  query::StreamView view{{}, {{"rule", "rule"}, {"severity", "severity"}}};
  for (const auto& name : names) {
    if (config.streams.contains(name)) view.streams.push_back(name);
  }
  return view;
}

std::vector<std::string> stream_names(const Config& config) {
  std::vector<std::string> names;
  names.reserve(config.streams.size());
  for (const auto& [name, stream] : config.streams)
    names.push_back(name);
  return names;
}

// The token a reader presents: Authorization: Bearer, X-Sluice-Key or ?token= (an EventSource
// cannot set headers). Not ?key=: on the read endpoints that is a filter.
std::string read_token(const Request& req, const boost::urls::url_view& url) {
  const boost::urls::url_view no_query;
  std::string token = presented_key(req, no_query);
  if (token.empty() && url.has_query()) {
    if (auto it = url.params().find("token"); it != url.params().end()) token = (*it).value;
  }
  return token;
}

// A read endpoint's query parameters, without the token.
query::Params query_params(const boost::urls::url_view& url) {
  query::Params params;
  for (const auto& p : url.params()) {
    if (p.key != "token") params.emplace_back(p.key, p.value);
  }
  return params;
}

}  // namespace

struct Server::Impl {
  Impl(const Config& config, log::Log& log, ServedParts parts)
      : config(config),
        log(log),
        reader(parts.reader),
        serves_ingest(parts.ingest),
        pipelines(parts.pipelines),
        windows(parts.windows),
        store(parts.store),
        http_metrics(route_labels(config), stream_names(config)),
        dead_letters(dead_letter_view(config)),
        alert_streams(alert_view(config)),
        per_ip(config.server.rate_limit.per_ip, config.server.rate_limit.burst),
        per_key(config.server.rate_limit.per_key, config.server.rate_limit.burst),
        read_per_ip(config.server.rate_limit.reads_per_ip, config.server.rate_limit.burst),
        reads_open(config.server.public_reads ||
                   (config.server.read_tokens.empty() && is_loopback_listen(config.server.listen))),
        acceptor(io),
        signals(io, SIGINT, SIGTERM) {
    if (config.server.public_reads) {
      logger("http")->warn(
          "server.public_reads: true: every read endpoint answers anyone who reaches {}",
          config.server.listen);
    } else if (!reads_open && config.server.read_tokens.empty()) {
      logger("http")->warn(
          "reads need a read token: {} is not a loopback address and server.read_tokens is "
          "empty, so every read endpoint answers 401 (set server.read_tokens or "
          "server.public_reads)",
          config.server.listen);
    }
    for (const auto& [name, stream] : config.streams) {
      auto policy = StreamPolicy::build(stream);
      if (!policy) throw std::runtime_error("streams." + name + ": " + policy.error().message);
      policies.emplace(name, std::move(policy.value()));
    }
    for (const auto& [name, stream] : config.streams) {
      ingest_targets.emplace(name, IngestTarget{.stream = &stream,
                                                .policy = policies.at(name).get(),
                                                .counters = http_metrics.stream(name),
                                                .accepts_posts = config.accepts_posts(stream)});
    }
    for (const auto& [name, route] : config.routes) {
      routes.emplace(route.path, CompatRoute{route.stream, http_metrics.route_index(route.path)});
    }
  }

  Response make_response(const Request& req, unsigned status, std::string body) {
    Response res{.status = status, .keep_alive = req.keep_alive(), .version = req.version()};
    res.body = std::move(body);
    if (status == 503) res.set("Retry-After", "1");
    if (status == 401) res.set("WWW-Authenticate", "Bearer realm=\"sluice\"");
    return res;
  }

  Response error_response(const Request& req, const Error& error) {
    return make_response(req, status_for(error.code), error_json(error.message));
  }

  // The collector path a POST to `req`'s target is, if any.
  std::optional<CollectorPath> collector_stream(const Request& req) const {
    const std::string_view target(req.target().data(), req.target().size());
    if (is_plain_path(target)) return collector_path(target);
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return std::nullopt;
    return collector_path(parsed->encoded_path());
  }

  // On a POST's headers, before its body is read: an unknown stream (404), a stream that takes
  // no posts (403), a missing or wrong write key (401, 403), a key over its rate (429).
  // nullopt lets the body be read.
  std::optional<Response> refuse_before_body(const Request& header) {
    if (header.method() != bhttp::verb::post || !serves_ingest) return std::nullopt;
    auto destination = collector_stream(header);
    if (!destination) return std::nullopt;  // routing answers
    const std::string& stream_name = destination->stream;
    const bool form = destination->form;
    auto target = ingest_targets.find(stream_name);
    if (target == ingest_targets.end() || (form && !target->second.stream->form.enabled)) {
      return error_response(
          header, make_error(Errc::kNotFound, fmt::format("unknown {} \"{}\"",
                                                          form ? "form" : "stream", stream_name)));
    }
    std::optional<Response> refused;
    if (!target->second.accepts_posts) {
      refused = error_response(
          header, make_error(Errc::kForbidden,
                             fmt::format("stream \"{0}\" is written by Sluice itself (dead "
                                         "letters, alerts, late events or window results) and "
                                         "takes no posts; set streams.{0}.ingest: true to allow "
                                         "them",
                                         stream_name)));
    } else if (auto origin = foreign_origin(header, *target->second.stream)) {
      // A browser's simple POST (a form, sendBeacon's text/plain) has no preflight: the
      // origin is checked here, or any page on the web could post.
      refused = error_response(
          header,
          make_error(Errc::kForbidden, fmt::format("origin \"{}\" may not post to stream "
                                                   "\"{}\"; add it to streams.{}.cors_origins",
                                                   *origin, stream_name, stream_name)));
    } else {
      refused = admit(header, *target->second.stream);
      if (!refused) refused = refuse_signature_time(header, *target->second.stream);
    }
    if (refused) finish_collect(header, stream_name, *refused);
    return refused;
  }

  // A stream with hmac_secrets, on the headers: the signature header is there, well formed,
  // and its time within hmac_tolerance. The HMAC itself needs the body (signature_matches).
  std::optional<Response> refuse_signature_time(const Request& header, const StreamConfig& stream) {
    if (stream.hmac_secrets.empty()) return std::nullopt;
    const auto value = header[signature::kHeader];
    if (value.empty()) {
      return error_response(
          header, make_error(Errc::kUnauthorized,
                             fmt::format("stream \"{0}\" takes signed posts only: send {1}: "
                                         "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + "
                                         "the body> (streams.{0}.hmac_secrets)",
                                         stream.name, signature::kHeader)));
    }
    const auto parsed = signature::parse(std::string_view(value.data(), value.size()));
    if (!parsed) {
      return error_response(header, make_error(Errc::kUnauthorized,
                                               fmt::format("{}: expected t=<unix seconds>,v1=<64 "
                                                           "hex digits>",
                                                           signature::kHeader)));
    }
    const std::int64_t skew = parsed->unix_seconds - now_ms() / 1000;
    const std::int64_t tolerance = stream.hmac_tolerance.count() / 1000;
    if (skew > tolerance || skew < -tolerance) {
      return error_response(
          header,
          make_error(Errc::kUnauthorized,
                     fmt::format("{}: the timestamp is {} s from the server's clock, more than "
                                 "streams.{}.hmac_tolerance ({} s)",
                                 signature::kHeader, skew, stream.name, tolerance)));
    }
    return std::nullopt;
  }

  // The request's Origin when it names a page that the stream's cors_origins do not allow and
  // that is not this server itself (browsers send Origin on same-origin POSTs too).
  static std::optional<std::string> foreign_origin(const Request& header,
                                                   const StreamConfig& stream) {
    const auto origin = header[bhttp::field::origin];
    if (origin.empty()) return std::nullopt;
    const std::string_view text(origin.data(), origin.size());
    if (!stream.allowed_origin(text).empty()) return std::nullopt;
    const auto host = header[bhttp::field::host];
    const auto scheme_end = text.find("://");
    if (!host.empty() && scheme_end != std::string_view::npos &&
        text.substr(scheme_end + 3) == std::string_view(host.data(), host.size())) {
      return std::nullopt;
    }
    return std::string(text.substr(0, 256));
  }

  // Who may post: the stream's write keys and the rate limits. nullopt lets the request in.
  std::optional<Response> admit(const Request& req, const StreamConfig& stream) {
    // Most streams take anonymous posts: their requests need no key, so none is looked for.
    if (stream.write_keys.empty() && !per_key.enabled()) return std::nullopt;
    const std::string key = presented_key(req, target_url(req));
    if (!stream.write_keys.empty()) {
      if (key.empty()) {
        return error_response(
            req, make_error(Errc::kUnauthorized,
                            fmt::format("stream \"{}\" needs a write key: send Authorization: "
                                        "Bearer <key>, X-Sluice-Key: <key> or ?key=<key>",
                                        stream.name)));
      }
      bool known = false;
      for (const auto& allowed : stream.write_keys)
        known = known || same_key(key, allowed);
      if (!known) {
        return error_response(
            req,
            make_error(Errc::kForbidden,
                       fmt::format("the key is not a write key of stream \"{}\"", stream.name)));
      }
    }
    // Only keys that were checked are counted: any other string would be a new entry in the
    // limiter's table, and a stranger could grow it without bound.
    if (!key.empty() && !stream.write_keys.empty()) {
      if (int wait = per_key.take(key)) return too_many(req, wait, "this key");
    }
    return std::nullopt;
  }

  // `setting`: per_ip, per_key or reads_per_ip.
  std::string rate_limit_message(const std::string& who, std::string_view setting,
                                 int wait_seconds) const {
    const auto& limit = config.server.rate_limit;
    const int rate = setting == "per_ip"    ? limit.per_ip
                     : setting == "per_key" ? limit.per_key
                                            : limit.reads_per_ip;
    return fmt::format(
        "rate limit exceeded for {} (server.rate_limit.{}: {} requests per second, burst {}); "
        "retry in {} s",
        who, setting, rate, limit.burst, wait_seconds);
  }

  Response too_many(const Request& req, int wait_seconds, const std::string& who) {
    auto res =
        make_response(req, 429, error_json(rate_limit_message(who, "per_key", wait_seconds)));
    res.set("Retry-After", std::to_string(wait_seconds));
    return res;
  }

  // A request's events, parsed and checked, ready to be appended.
  struct ParsedIngest {
    const StreamConfig* stream = nullptr;
    metrics::StreamCounters* counters = nullptr;
    std::int64_t received_at_ms = 0;
    IngestBatch batch;
  };

  // Everything before the append, on the I/O thread: the answer already (unknown stream,
  // refused, malformed body), or the events to append.
  std::variant<Response, ParsedIngest> parse_ingest(Request& req, const std::string& stream_name,
                                                    const std::string& client_ip, bool form) {
    auto target = ingest_targets.find(stream_name);
    if (target == ingest_targets.end() || (form && !target->second.stream->form.enabled)) {
      return error_response(
          req, make_error(Errc::kNotFound,
                          fmt::format("unknown {} \"{}\"", form ? "form" : "stream", stream_name)));
    }
    const StreamConfig& config_of_stream = *target->second.stream;
    metrics::StreamCounters& counters = *target->second.counters;
    // Who may post was settled before the body was read (refuse_before_body), but for the
    // HMAC of a signed post, which covers the body as sent.
    if (!config_of_stream.hmac_secrets.empty()) {
      const auto value = req[signature::kHeader];
      const auto parsed = signature::parse(std::string_view(value.data(), value.size()));
      if (!parsed || !signature::matches(*parsed, config_of_stream.hmac_secrets, req.body())) {
        return error_response(req, make_error(Errc::kUnauthorized,
                                              fmt::format("{} does not match the body under any of "
                                                          "streams.{}.hmac_secrets",
                                                          signature::kHeader, stream_name)));
      }
    }
    counters.bytes.fetch_add(req.body().size(), std::memory_order_relaxed);
    auto content_type = req[bhttp::field::content_type];
    std::string* body = &req.body();
    std::string inflated;
    if (auto encoding = req[bhttp::field::content_encoding]; !encoding.empty()) {
      auto decompressed = decompress_body(std::string_view(encoding.data(), encoding.size()), *body,
                                          config.server.max_body_bytes);
      if (!decompressed) return error_response(req, decompressed.error());
      inflated = std::move(decompressed.value());
      body = &inflated;
    }
    auto kind = body_kind(std::string_view(content_type.data(), content_type.size()), *body);
    if (!kind) return error_response(req, kind.error());
    const auto received_at = now_ms();
    IngestContext context{.stream = config_of_stream,
                          .policy = *target->second.policy,
                          .received_at_ms = received_at,
                          .client_ip = client_ip,
                          .form = form,
                          .keep_rejected = !config_of_stream.dead_letter.empty()};
    auto parsed = parse_body(*body, kind.value(), context);
    if (!parsed) return error_response(req, parsed.error());
    counters.received.fetch_add(parsed.value().accepted() + parsed.value().rejected.size(),
                                std::memory_order_relaxed);
    for (const auto& rejection : parsed.value().rejected) {
      const auto reason =
          rejection.malformed ? metrics::RejectReason::kMalformed : metrics::RejectReason::kInvalid;
      counters.rejected[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
    }
    return ParsedIngest{.stream = &config_of_stream,
                        .counters = &counters,
                        .received_at_ms = received_at,
                        .batch = std::move(parsed.value())};
  }

  // POST to a collector path. The one coroutine frame between a request and its append
  // (collect and route only pass it on): each frame more cost an allocation and a resumption.
  Task<Response> ingest(Request& req, std::string stream_name, std::string client_ip, bool form) {
    auto parsed = parse_ingest(req, stream_name, client_ip, form);
    Response res;
    if (auto* answer = std::get_if<Response>(&parsed)) {
      res = std::move(*answer);
    } else {
      ParsedIngest& events = std::get<ParsedIngest>(parsed);
      const std::size_t accepted = events.batch.accepted();
      Result<void> appended = boost::outcome_v2::success();
      if (accepted > 0) {
        appended = co_await async_append(log, stream_name, std::move(events.batch.partitions),
                                         http_metrics.append_latency(), kAwait);
        if (appended) events.counters->accepted.fetch_add(accepted, std::memory_order_relaxed);
      }
      if (!appended) {
        res = error_response(req, appended.error());
      } else {
        if (!events.batch.rejected.empty() && !events.stream->dead_letter.empty()) {
          co_await keep_dead_letters(stream_name, events);
        }
        res = ingest_answer(req, *events.stream, form, accepted, events.batch.rejected);
      }
    }
    finish_collect(req, stream_name, res);
    co_return res;
  }

  // The rejected events, to the stream's dead-letter stream. The accepted events are durable
  // already: the client's answer does not depend on this.
  Task<void> keep_dead_letters(const std::string& stream_name, const ParsedIngest& events) {
    const auto& dead = config.streams.at(events.stream->dead_letter);
    auto dead_batches =
        dead_letter_batches(events.batch.rejected, stream_name, dead, events.received_at_ms);
    auto kept = co_await async_append(log, dead.name, std::move(dead_batches),
                                      http_metrics.append_latency(), kAwait);
    if (!kept) {
      logger("http")->warn("dead letters lost stream={} count={} error=\"{}\"", dead.name,
                           events.batch.rejected.size(), kept.error().message);
    }
  }

  // 202 with the counts (400 when nothing was accepted), or a form's 303 to its thank-you page.
  Response ingest_answer(const Request& req, const StreamConfig& stream, bool form,
                         std::size_t accepted, const std::vector<Rejection>& rejected) {
    const unsigned status = accepted > 0 ? 202 : 400;
    if (form && status == 202 && !stream.form.redirect.empty()) {
      auto res = make_response(req, 303, "");
      res.set("Location", stream.form.redirect);
      res.content_type = {};
      return res;
    }
    return make_response(req, status, ingest_response_json(accepted, rejected));
  }

  // The client's address: the peer, or the last X-Forwarded-For hop behind a trusted proxy.
  template <class Header>
  std::string client_ip(const Header& req, const std::string& peer) const {
    if (!config.server.trust_forwarded_for) return peer;
    auto forwarded = req["X-Forwarded-For"];
    if (forwarded.empty()) return peer;
    auto last = std::string_view(forwarded.data(), forwarded.size());
    last = last.substr(last.rfind(',') == std::string_view::npos ? 0 : last.rfind(',') + 1);
    while (!last.empty() && last.front() == ' ')
      last.remove_prefix(1);
    return last.empty() ? peer : std::string(last);
  }

  // CORS: a browser asks with OPTIONS before a cross-origin POST with JSON; allowed origins are
  // per stream (streams.<name>.cors_origins).
  Response preflight(const Request& req, const std::string& stream_name) {
    auto stream = config.streams.find(stream_name);
    if (stream == config.streams.end()) {
      return error_response(
          req, make_error(Errc::kNotFound, fmt::format("unknown stream \"{}\"", stream_name)));
    }
    const auto origin = std::string(req[bhttp::field::origin]);
    const auto allowed = stream->second.allowed_origin(origin);
    if (allowed.empty()) {
      return make_response(req, 403,
                           error_json(fmt::format("origin \"{}\" may not post to stream \"{}\"; "
                                                  "add it to streams.{}.cors_origins",
                                                  origin, stream_name, stream_name)));
    }
    Response res{.status = 204, .keep_alive = req.keep_alive(), .version = req.version()};
    res.content_type = {};
    res.set("Access-Control-Allow-Origin", allowed);
    res.set("Access-Control-Allow-Methods", "POST, OPTIONS");
    res.set("Access-Control-Allow-Headers",
            "Content-Type, Content-Encoding, Authorization, X-Sluice-Key");
    res.set("Access-Control-Max-Age", "600");
    res.set("Vary", "Origin");
    return res;
  }

  void allow_origin(const Request& req, const StreamConfig& stream, Response& res) {
    auto origin = req[bhttp::field::origin];
    if (origin.empty()) return;
    auto allowed = stream.allowed_origin(std::string_view(origin.data(), origin.size()));
    if (allowed.empty()) return;
    res.set("Access-Control-Allow-Origin", allowed);
    res.set("Vary", "Origin");
  }

  // The read endpoints: open when reads_open; else a read token (401 without one, 403 for
  // anything else: a write key gets the same answer as a guess, so reads do not tell them
  // apart). nullopt lets the request in.
  std::optional<Response> authorize_read(const Request& req, const boost::urls::url_view& url) {
    if (reads_open) return std::nullopt;
    const std::string token = read_token(req, url);
    const auto& tokens = config.server.read_tokens;
    if (token.empty()) {
      if (tokens.empty()) {
        return error_response(
            req, make_error(Errc::kUnauthorized,
                            fmt::format("reading needs a read token: this server listens on {}, "
                                        "not a loopback address, and server.read_tokens is "
                                        "empty; set it (or server.public_reads: true)",
                                        config.server.listen)));
      }
      return error_response(
          req, make_error(Errc::kUnauthorized,
                          "reading needs a read token: send Authorization: Bearer <token> (or "
                          "?token=<token>)"));
    }
    bool known = false;
    for (const auto& allowed : tokens)
      known = same_key(token, allowed) || known;  // every token compared: no early exit
    if (known) return std::nullopt;
    return error_response(
        req, make_error(Errc::kForbidden, "the token is not a read token (server.read_tokens)"));
  }

  // A collector path: POST stores events, OPTIONS answers the CORS preflight.
  Task<Response> collect(Request& req, std::string stream, const std::string& peer, bool form) {
    if (req.method() == bhttp::verb::post) {
      return ingest(req, std::move(stream), client_ip(req, peer), form);
    }
    if (req.method() == bhttp::verb::options) return ready(preflight(req, stream));
    return ready(method_not_allowed(req, "POST, OPTIONS"));
  }

  // What every answer to a POST on a collector path gets: its CORS header, a count by status.
  void finish_collect(const Request& req, const std::string& stream, Response& res) {
    auto target = ingest_targets.find(stream);
    if (target == ingest_targets.end()) return;  // an unknown stream: nothing to allow or count
    allow_origin(req, *target->second.stream, res);
    target->second.counters->requests[metrics::status_index(res.status)].fetch_add(
        1, std::memory_order_relaxed);
  }

  static Task<Response> ready(Response res) { co_return res; }

  Response method_not_allowed(const Request& req, const char* allow) {
    auto res = make_response(req, 405,
                             error_json(fmt::format("method {} is not allowed on {}; use {}",
                                                    std::string(req.method_string()),
                                                    std::string(req.target()), allow)));
    res.set("Allow", allow);
    return res;
  }

  // /readyz answers within this, whatever the store, the log or the other pools are doing: a
  // probe that hangs is worse than one that says "not ready".
  static constexpr std::chrono::milliseconds kReadyzDeadline{2000};
  static constexpr int kMaxReadinessChecks = 4;  // running or queued at once

  // The readiness checks, on a thread of their own, or "not ready" once `deadline` passes (the
  // check goes on and is dropped when done).
  Task<health::Readiness> check_readiness_within(std::chrono::milliseconds deadline) {
    auto not_ready = [](const std::string& why) {
      std::string json = "{\"checks\":{},\"status\":\"not ready\",\"error\":";
      append_json_string(json, why);
      json += '}';
      return health::Readiness{false, std::move(json)};
    };
    if (readiness_checks.fetch_add(1, std::memory_order_relaxed) >= kMaxReadinessChecks) {
      readiness_checks.fetch_sub(1, std::memory_order_relaxed);
      co_return not_ready(
          fmt::format("{} readiness checks are still running (the store or the "
                      "log is not answering)",
                      kMaxReadinessChecks));
    }
    // The result reaches this coroutine's thread and cancels the wait; the shared state
    // outlives a coroutine that gave up.
    struct Wait {
      explicit Wait(const IoExecutor& executor) : timer(executor) {}
      Timer timer;
      std::optional<health::Readiness> result;
    };
    const IoExecutor executor = co_await asio::this_coro::executor;
    auto wait = std::make_shared<Wait>(executor);
    asio::post(readiness_pool, [this, wait, executor] {
      auto result = health::check_readiness({.log = log,
                                             .reader = reader,
                                             .store = store,
                                             .pipelines = pipelines,
                                             .windows = windows});
      readiness_checks.fetch_sub(1, std::memory_order_relaxed);
      asio::post(executor, [wait, result = std::move(result)]() mutable {
        wait->result = std::move(result);
        wait->timer.cancel();
      });
    });
    wait->timer.expires_after(deadline);
    co_await wait->timer.async_wait(kTuple);
    if (wait->result) co_return std::move(*wait->result);
    co_return not_ready(
        fmt::format("the readiness checks did not finish within {} ms (the store or the log is not "
                    "answering)",
                    deadline.count()));
  }

  // Runs `f` on the blocking pool and resumes the caller on its own I/O thread with the result.
  template <class F>
  auto off_io_thread(F f) {
    return run_on(blocking_pool, std::move(f));
  }

  // Runs a store query on the query pool: a query may wait for the database (PostgreSQL over
  // the network), which must never hold up an I/O thread.
  template <class F>
  auto in_query_pool(F f) {
    return run_on(query_pool, std::move(f));
  }

  template <class F>
  auto run_on(asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F&>;
    return asio::async_initiate<decltype(kAwait), void(R)>(
        [&pool, f = std::move(f)](auto handler) mutable {
          auto io_executor = asio::get_associated_executor(handler);
          asio::post(pool, [f = std::move(f), handler = std::move(handler), io_executor]() mutable {
            R result = f();
            asio::post(io_executor,
                       [handler = std::move(handler), result = std::move(result)]() mutable {
                         std::move(handler)(std::move(result));
                       });
          });
        },
        kAwait);
  }

  // Answers a request; `route_id` is set to the route that answered (for the metrics). Not a
  // coroutine: the collector paths go straight to ingest's, the others to serve_reads'.
  Task<Response> route(Request& req, const std::string& peer, std::size_t& route_id) {
    route_id = http_metrics.routes().size() - 1;  // (no route)
    // Most targets are a plain path ("/v1/streams/web/events"): those skip boost.url's parse,
    // which cost more than the rest of the routing.
    const std::string_view target(req.target().data(), req.target().size());
    boost::urls::url_view url;  // empty: no query parameters
    std::string_view path = target;
    if (!is_plain_path(target)) {
      auto parsed = boost::urls::parse_origin_form(target);
      if (!parsed)
        return ready(error_response(req, make_error(Errc::kInvalidInput, "malformed URL")));
      url = *parsed;
      // Routes and stream names have no characters that need percent-decoding; an encoded
      // path simply matches no route.
      path = url.encoded_path();
    }
    auto no_ingest = [&] {
      return ready(error_response(req, make_error(Errc::kNotFound,
                                                  "this process serves queries only (sluice api): "
                                                  "events are posted to a collector")));
    };

    if (auto collector = collector_path(path)) {
      route_id = collector->route_id;
      if (!serves_ingest) return no_ingest();
      return collect(req, std::move(collector->stream), peer, collector->form);
    }
    return serve_reads(req, path, route_id);
  }

  std::optional<CollectorPath> collector_path(std::string_view path) const {
    constexpr std::string_view kStreamsPrefix = "/v1/streams/";
    constexpr std::string_view kEventsSuffix = "/events";
    if (path.starts_with(kStreamsPrefix) && path.ends_with(kEventsSuffix) &&
        path.size() > kStreamsPrefix.size() + kEventsSuffix.size()) {
      std::string stream(path.substr(kStreamsPrefix.size(),
                                     path.size() - kStreamsPrefix.size() - kEventsSuffix.size()));
      if (stream.find('/') == std::string::npos) {
        return CollectorPath{std::move(stream), false, kStreamEventsRoute};
      }
    }
    constexpr std::string_view kFormsPrefix = "/v1/forms/";
    if (path.starts_with(kFormsPrefix) && path.size() > kFormsPrefix.size() &&
        path.find('/', kFormsPrefix.size()) == std::string::npos) {
      return CollectorPath{std::string(path.substr(kFormsPrefix.size())), true, kFormRoute};
    }
    if (auto compat = routes.find(path); compat != routes.end()) {
      return CollectorPath{compat->second.stream, false, compat->second.metric};
    }
    return std::nullopt;
  }

  // The read, status and health endpoints. `path` views the request's target.
  Task<Response> serve_reads(Request& req, std::string_view path, std::size_t& route_id) {
    const boost::urls::url_view parsed_url = target_url(req);
    const boost::urls::url_view* url = &parsed_url;
    const auto method = req.method();
    auto not_allowed = [&](const char* allow) { return method_not_allowed(req, allow); };

    if (path == "/v1/events" || path.starts_with("/v1/events/")) {
      route_id = path == "/v1/events" ? kEventsRoute : kEventRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      if (auto refused = authorize_read(req, *url)) co_return std::move(*refused);
      if (!reader) {
        co_return error_response(
            req, make_error(Errc::kNotFound,
                            "this is a collector: events are read from the "
                            "processes that run the store (sluice run, sluice api)"));
      }
      const query::Params params = query_params(*url);
      Result<std::string> body = make_error(Errc::kInvalidInput, "malformed event id");
      if (path == "/v1/events") {
        body = co_await in_query_pool([&] { return query::query_events(*reader, params); });
      } else if (const auto id = boost::urls::make_pct_string_view(path.substr(11))) {
        // The id as sent, percent-decoded (ids may hold any character).
        // A local, not a lambda capture: GCC 12 destroys non-trivial captures of a lambda in a
        // co_await operand twice.
        const std::string decoded = id->decode();
        body = co_await in_query_pool(
            [&] { return query::query_event(*reader, decoded, params, stream_list); });
      }
      if (!body) co_return error_response(req, body.error());
      co_return make_response(req, 200, std::move(body.value()));
    }
    if (path == "/v1/streams" || path == "/v1/dead-letters" || path == "/v1/alerts" ||
        path == "/v1/stats") {
      route_id = path == "/v1/streams"        ? kStreamsRoute
                 : path == "/v1/dead-letters" ? kDeadLettersRoute
                 : path == "/v1/alerts"       ? kAlertsRoute
                                              : kStatsRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      if (auto refused = authorize_read(req, *url)) co_return std::move(*refused);
      const query::Params params = query_params(*url);
      Result<std::string> body = make_error(Errc::kInternal, "");
      if (route_id == kStreamsRoute) {
        body = co_await off_io_thread([&] {
          return query::query_streams({.config = config,
                                       .log = log,
                                       .http = http_metrics,
                                       .store = store,
                                       .reader = reader},
                                      params);
        });
      } else if (!reader) {
        co_return error_response(
            req, make_error(Errc::kNotFound,
                            "this is a collector: events are read from the "
                            "processes that run the store (sluice run, sluice api)"));
      } else if (route_id == kStatsRoute && store && !store->statistics_ready()) {
        co_return error_response(
            req, make_error(Errc::kUnavailable,
                            "the statistics are not ready: they are counted again from the "
                            "stored events at start when a stream's stats_fields changed (or "
                            "the store cannot be reached yet); try again in a moment"));
      } else if (route_id == kStatsRoute) {
        body = co_await in_query_pool(
            [&] { return query::query_stats(*reader, stats_fields, params); });
      } else {
        body = co_await in_query_pool([&] {
          return query::query_view(
              *reader, route_id == kDeadLettersRoute ? dead_letters : alert_streams, params);
        });
      }
      if (!body) co_return error_response(req, body.error());
      co_return make_response(req, 200, std::move(body.value()));
    }
    if (path == "/v1/pipelines") {
      route_id = kPipelinesRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      if (auto refused = authorize_read(req, *url)) co_return std::move(*refused);
      if (!pipelines) {
        co_return error_response(
            req, make_error(Errc::kNotFound, reader ? "this process serves queries only: pipelines "
                                                      "run in sluice run"
                                                    : "this is a collector: pipelines run in "
                                                      "the processes that run them (sluice run)"));
      }
      auto statuses =
          co_await off_io_thread([this] { return pipeline::statuses_json(pipelines->statuses()); });
      co_return make_response(req, 200, std::move(statuses));
    }
    if (path == "/v1/windows" || path.starts_with("/v1/windows/")) {
      route_id = path == "/v1/windows" ? kWindowsRoute : kWindowRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      if (auto refused = authorize_read(req, *url)) co_return std::move(*refused);
      if (!windows) {
        co_return error_response(
            req, make_error(Errc::kNotFound, reader ? "this process serves queries only: windows "
                                                      "run in sluice run"
                                                    : "this is a collector: windows run in the "
                                                      "processes that run them (sluice run)"));
      }
      if (path == "/v1/windows") {
        auto statuses = co_await off_io_thread([this] {
          return windows::statuses_json(windows->statuses(), windows->rule_statuses());
        });
        co_return make_response(req, 200, std::move(statuses));
      }
      const std::string name(path.substr(std::string_view("/v1/windows/").size()));
      const auto window = windows->find(name);  // as running now (SIGHUP may change them)
      if (!window) {
        co_return error_response(
            req, make_error(Errc::kNotFound, fmt::format("no window named \"{}\"", name)));
      }
      const query::Params params = query_params(*url);
      // On the query pool: the window store may be a PostgreSQL server that is slow or away,
      // which must never hold up an I/O thread (and the collector's requests on it).
      const std::string location = config.storage.windows_location();
      auto body = co_await in_query_pool(
          [&] { return query::query_window_results(location, *window, params); });
      if (!body) co_return error_response(req, body.error());
      co_return make_response(req, 200, std::move(body.value()));
    }
    if (path == "/metrics") {
      route_id = kMetricsRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      if (auto refused = authorize_read(req, *url)) co_return std::move(*refused);
      auto text = co_await off_io_thread([this] {
        return metrics::render({.log = log,
                                .http = &http_metrics,
                                .store = store,
                                .pipelines = pipelines,
                                .windows = windows,
                                .data_dir = config.storage.data_dir});
      });
      auto res = make_response(req, 200, std::move(text));
      res.content_type = "text/plain; version=0.0.4; charset=utf-8";
      co_return res;
    }
    if (path == "/healthz") {
      route_id = kHealthzRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      co_return make_response(req, 200, "{\"status\":\"ok\"}");
    }
    if (path == "/readyz") {
      route_id = kReadyzRoute;
      if (method != bhttp::verb::get) co_return not_allowed("GET");
      auto readiness = co_await check_readiness_within(kReadyzDeadline);
      co_return make_response(req, readiness.ready ? 200 : 503, std::move(readiness.json));
    }
    co_return error_response(req, make_error(Errc::kNotFound, fmt::format("no route {}", path)));
  }

  // `remote` is the peer's address as accept() returned it (asking the socket costs a system
  // call per connection).
  // `drain` is the one of the connection's I/O thread.
  // open_connections was counted up for it by accept_loop.
  Task<void> session(Socket socket, tcp::endpoint remote, ConnectionDrain& drain) {
    struct Closed {
      std::atomic<int>& count;
      ~Closed() { count.fetch_sub(1, std::memory_order_relaxed); }
    } closed{open_connections};
    const std::string peer = remote.address().to_string();
    if (!tls) {
      co_await serve(socket, peer, drain);
      co_return;
    }
    // The context stays alive with the connection, whatever a reload does meanwhile.
    const std::shared_ptr<asio::ssl::context> context = tls->current();
    TlsStream stream(std::move(socket), *context);
    {
      // The handshake is bounded like a request's headers (a client that never finishes it).
      ConnectionDrain::Member member(drain, tcp_of(stream));
      ReadDeadline deadline(stream.get_executor(), tcp_of(stream));
      deadline.arm(config.server.header_timeout);
      auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
      deadline.disarm();
      if (error) {
        logger("http")->debug("TLS handshake failed peer={} error=\"{}\"", peer, error.message());
        co_return;
      }
    }
    co_await serve(stream, peer, drain);
  }

  // The requests of one connection, until it closes.
  template <class Stream>
  Task<void> serve(Stream& stream, const std::string& peer, ConnectionDrain& drain) {
    // A plain socket, not beast::tcp_stream: its per-operation timer machinery costs more
    // than the deadline below, which covers reads and writes alike.
    ConnectionDrain::Member member(drain, tcp_of(stream));
    ReadDeadline deadline(stream.get_executor(), tcp_of(stream));
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      if (drain.draining()) break;  // stopping: no further requests on this connection
      RequestParser parser;
      parser.body_limit(config.server.max_body_bytes);
      parser.header_limit(kHeaderLimit);
      // Waiting for a request to begin: header_timeout on a new connection, idle_timeout
      // between requests on a kept-alive one. Silence then just closes the connection.
      if (buffer.size() == 0) {
        deadline.arm(first ? config.server.header_timeout : config.server.idle_timeout);
        member.set_idle(true);
        auto [read_error, n] = co_await stream.async_read_some(
            buffer.prepare(beast::read_size(buffer, 65536)), kTuple);
        member.set_idle(false);
        deadline.disarm();
        if (read_error) co_return;
        buffer.commit(n);
      }
      first = false;
      // From its first byte a request's headers must be in within header_timeout (slowloris).
      deadline.arm(config.server.header_timeout);
      auto header_error = parse_buffered(parser, buffer, ReadUntil::kHeader);
      if (header_error == bhttp::error::need_more) {
        header_error = co_await read_rest(stream, buffer, parser, ReadUntil::kHeader);
      }
      deadline.disarm();
      if (header_error) {
        if (header_error == bhttp::error::body_limit) {
          co_await send_error(stream, deadline, 413, body_limit_message());
        } else if (header_error == bhttp::error::header_limit) {
          co_await send_error(stream, deadline, 431,
                              fmt::format("the request line and headers are over the limit of "
                                          "{} bytes",
                                          kHeaderLimit));
        } else if (deadline.expired()) {
          // Part of a request arrived, too slowly (slowloris).
          co_await send_error(stream, deadline, 408,
                              fmt::format("the request headers took longer than {} ms "
                                          "(server.header_timeout)",
                                          config.server.header_timeout.count()));
        } else if (!deadline.expired() && header_error != bhttp::error::end_of_stream &&
                   header_error != asio::error::eof &&
                   header_error != asio::error::connection_reset &&
                   header_error != asio::error::operation_aborted) {
          co_await send_error(stream, deadline, 400,
                              "malformed HTTP request: " + header_error.message());
        }
        co_return;
      }
      const auto started = std::chrono::steady_clock::now();
      const auto& header = parser.get();
      // Before the body is read: a client over its limit does not get to send it. Posts
      // count against per_ip; reads (all but the probes) against reads_per_ip.
      const bool post = header.method() == bhttp::verb::post;
      RateLimiter& limiter = post ? per_ip : read_per_ip;
      if (limiter.enabled() && (post || !is_probe(header.target()))) {
        const std::string address = client_ip(header, peer);
        if (int wait = limiter.take(address)) {
          std::vector<std::pair<std::string, std::string>> retry_after;
          retry_after.emplace_back(std::string("Retry-After"), std::to_string(wait));
          const std::string message =
              rate_limit_message("address " + address, post ? "per_ip" : "reads_per_ip", wait);
          co_await send_error(stream, deadline, 429, message, std::move(retry_after));
          co_return;
        }
      }
      if (auto refused = refuse_before_body(parser.get())) {
        // A post that may not be made is answered before its body is read: a wrong key does
        // not get to send megabytes first.
        co_await send_and_close(stream, deadline, std::move(*refused));
        co_return;
      }
      if (header.method() == bhttp::verb::post && !parser.content_length() && !parser.chunked()) {
        co_await send_error(stream, deadline, 411,
                            "a POST needs a Content-Length header or chunked Transfer-Encoding");
        co_return;
      }
      // curl and other clients wait (curl: one second) for this before sending a large body.
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        deadline.arm(config.server.body_timeout);
        auto [continue_error, n] = co_await bhttp::async_write(stream, go_on, kTuple);
        deadline.disarm();
        if (continue_error) co_return;
      }
      // Room for the JSON parser's padding from the start: the body reader reserves the
      // Content-Length (which the body limit has checked), and adding the padding after the
      // read copied every body once more.
      if (auto length = parser.content_length(); length && *length > 0) {
        parser.get().body().reserve(*length + kBodyPadding);
      }
      deadline.arm(config.server.body_timeout);
      auto body_error = parse_buffered(parser, buffer, ReadUntil::kMessage);
      if (body_error == bhttp::error::need_more) {
        body_error = co_await read_rest(stream, buffer, parser, ReadUntil::kMessage);
      }
      deadline.disarm();
      if (body_error) {
        if (body_error == bhttp::error::body_limit) {
          co_await send_error(stream, deadline, 413, body_limit_message());
        } else if (deadline.expired()) {
          co_await send_error(stream, deadline, 408,
                              fmt::format("the request body took longer than {} ms "
                                          "(server.body_timeout)",
                                          config.server.body_timeout.count()));
        }
        co_return;
      }
      Request req = parser.release();
      if (is_tail(req.target())) {
        // The connection becomes the event stream; it ends with the tail.
        co_await tail(stream, deadline, req, started, drain);
        co_return;
      }
      std::size_t route_id = 0;
      Response res = co_await route(req, peer, route_id);
      if (drain.draining()) res.keep_alive = false;  // the answer, then the connection closes
      deadline.arm(config.server.body_timeout);
      const std::string answer = res.serialize();
      auto [write_error, written] =
          co_await asio::async_write(stream, asio::buffer(answer), kTuple);
      deadline.disarm();
      http_metrics.observe(route_id, res.status, std::chrono::steady_clock::now() - started);
      if (write_error || !res.keep_alive) break;
    }
    beast::error_code ignored;
    tcp_of(stream).shutdown(Socket::shutdown_send, ignored);
  }

  std::string body_limit_message() const {
    return fmt::format("request body is over the limit of {} bytes (server.max_body_bytes)",
                       config.server.max_body_bytes);
  }

  // Answers and closes. The client may still be sending (a body over the limit): what it
  // sends is read and dropped for a moment, so that closing does not reset the connection and
  // destroy the answer before the client has read it.
  template <class Stream>
  Task<void> send_error(Stream& stream, ReadDeadline& deadline, unsigned status,
                        const std::string& message,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    // A named local, not a temporary in the co_await: GCC 12 destroyed such a temporary twice.
    Response res{.status = status,
                 .keep_alive = false,
                 .headers = std::move(headers),
                 .body = error_json(message)};
    co_await send_and_close(stream, deadline, std::move(res));
  }

  // Answers a request whose body is not read, then closes (see send_error).
  template <class Stream>
  Task<void> send_and_close(Stream& stream, ReadDeadline& deadline, Response res) {
    res.keep_alive = false;
    const unsigned status = res.status;
    const std::string answer = res.serialize();
    const auto started = std::chrono::steady_clock::now();
    deadline.arm(config.server.body_timeout);
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(answer), kTuple);
    deadline.disarm();
    // Counted under one route label: these requests never reached routing.
    http_metrics.observe(kRefusedEarly, status, std::chrono::steady_clock::now() - started);
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

  // Orchestrators probe these often, from one address: never rate-limited.
  static bool is_probe(beast::string_view target) {
    return target == "/healthz" || target == "/readyz";
  }

  static bool is_tail(std::string_view target) {
    constexpr std::string_view kTail = "/v1/tail";
    return target.starts_with(kTail) &&
           (target.size() == kTail.size() || target[kTail.size()] == '?');
  }

  // GET /v1/tail: Server-Sent Events of the streams' new events, heartbeats while quiet. A
  // client that falls kMaxTailLag events behind, or whose socket takes no data for
  // server.body_timeout, is dropped with a last `event: dropped`; ingest never waits for it.
  // Counted in the request metrics when the answer's head is written (the stream's length says
  // nothing about latency).
  template <class Stream>
  Task<void> tail(Stream& stream, ReadDeadline& deadline, Request& req,
                  std::chrono::steady_clock::time_point started, const ConnectionDrain& drain) {
    constexpr std::uint64_t kMaxTailLag = 100'000;
    constexpr std::size_t kEventsPerWrite = 1000;
    const std::string_view target(req.target().data(), req.target().size());
    auto parsed = boost::urls::parse_origin_form(target);
    auto answer = [&](const Response& res) -> Task<void> {
      const std::string text = res.serialize();
      deadline.arm(config.server.body_timeout);
      co_await asio::async_write(stream, asio::buffer(text), kTuple);
      deadline.disarm();
      http_metrics.observe(kTailRoute, res.status, std::chrono::steady_clock::now() - started);
    };
    if (!parsed) {
      co_await answer(error_response(req, make_error(Errc::kInvalidInput, "malformed URL")));
      co_return;
    }
    if (req.method() != bhttp::verb::get) {
      co_await answer(method_not_allowed(req, "GET"));
      co_return;
    }
    if (auto refused = authorize_read(req, *parsed)) {
      co_await answer(*refused);
      co_return;
    }
    // A tail holds a connection and a cursor for as long as the client likes: their number is
    // bounded.
    auto& clients = http_metrics.tail_clients();
    const auto before = clients.fetch_add(1, std::memory_order_relaxed);
    struct Leave {
      std::atomic<std::int64_t>& clients;
      ~Leave() { clients.fetch_sub(1, std::memory_order_relaxed); }
    } leave{clients};
    const int max_tails = config.server.max_tails;
    if (max_tails > 0 && before >= max_tails) {
      co_await answer(error_response(
          req, make_error(Errc::kUnavailable,
                          fmt::format("{} live tails are open, the most this server keeps "
                                      "(server.max_tails); try again later",
                                      max_tails))));
      co_return;
    }
    const query::Params params = query_params(*parsed);
    auto opened = co_await run_on(
        tail_pool, [this, &params] { return query::TailCursor::open(log, stream_list, params); });
    if (!opened) {
      co_await answer(error_response(req, opened.error()));
      co_return;
    }
    query::TailCursor& cursor = opened.value();

    auto send = [&](const std::string& text) -> Task<bool> {
      deadline.arm(config.server.body_timeout);
      auto [error, n] = co_await asio::async_write(stream, asio::buffer(text), kTuple);
      deadline.disarm();
      co_return !error;
    };
    auto drop = [&](const std::string& why) -> Task<void> {
      std::string last = "event: dropped\ndata: ";
      last += error_json(why);
      last += "\n\n";
      deadline.arm(config.server.body_timeout);
      co_await asio::async_write(stream, asio::buffer(last), kTuple);
      deadline.disarm();
    };
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nX-Accel-Buffering: no\r\n\r\nretry: 1000\n\n: tail of ";
    for (std::size_t i = 0; i < cursor.streams().size(); ++i)
      head += (i ? "," : "") + cursor.streams()[i];
    head += "\n\n";
    const bool head_sent = co_await send(head);
    http_metrics.observe(kTailRoute, 200, std::chrono::steady_clock::now() - started);
    if (!head_sent) co_return;
    Timer timer(stream.get_executor());
    auto last_sent = std::chrono::steady_clock::now();
    for (;;) {
      struct Chunk {
        Result<std::string> text;
        std::size_t read = 0;
        std::uint64_t lag = 0;
      };
      Chunk chunk = co_await run_on(tail_pool, [&cursor] {
        Chunk c{std::string()};
        c.text = cursor.next(kEventsPerWrite, c.read);
        c.lag = cursor.lag();
        return c;
      });
      if (!chunk.text) {
        co_await drop("the log cannot be read: " + chunk.text.error().message);
        co_return;
      }
      if (chunk.lag > kMaxTailLag) {
        co_await drop(
            fmt::format("the client reads too slowly: {} events behind (the limit is "
                        "{}); reconnect to follow from now",
                        chunk.lag, kMaxTailLag));
        co_return;
      }
      const auto now = std::chrono::steady_clock::now();
      if (!chunk.text.value().empty()) {
        if (!co_await send(chunk.text.value())) {
          if (deadline.expired()) {
            co_await drop(fmt::format("the client took no data for {} ms (server.body_timeout)",
                                      config.server.body_timeout.count()));
          }
          co_return;
        }
        last_sent = now;
      } else if (now - last_sent >= cursor.heartbeat()) {
        if (!co_await send(": heartbeat\n\n")) co_return;
        last_sent = now;
      }
      if (chunk.read >= kEventsPerWrite) continue;  // more is waiting
      if (drain.draining()) co_return;              // the client reconnects (`retry`)
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(kTuple);
    }
  }

  // Once a second: the streams' accepted counts, for the rates of GET /v1/streams.
  Task<void> sample_rates() {
    asio::steady_timer timer(io);
    for (;;) {
      http_metrics.sample(std::chrono::steady_clock::now());
      timer.expires_after(std::chrono::seconds(1));
      auto [error] = co_await timer.async_wait(kTuple);
      if (error) co_return;
    }
  }

  // Over server.max_connections: a 503 written at once (a new socket's send buffer takes it
  // whole, so this does not wait), then closed without reading anything.
  void refuse_connection(Socket& socket) {
    beast::error_code ignored;
    if (tls) {  // no handshake for it: closed
      socket.close(ignored);
      http_metrics.observe(kRefusedEarly, 503, std::chrono::nanoseconds(0));
      return;
    }
    const Response res{
        .status = 503,
        .keep_alive = false,
        .headers = {{"Retry-After", "1"}},
        .body = error_json(fmt::format("{} connections are open, the most this server keeps "
                                       "(server.max_connections); try again later",
                                       config.server.max_connections))};
    const std::string answer = res.serialize();
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(answer), ignored);
    socket.shutdown(Socket::shutdown_send, ignored);
    socket.close(ignored);
    http_metrics.observe(kRefusedEarly, 503, std::chrono::nanoseconds(0));
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
      const int max_connections = config.server.max_connections;
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

  const Config& config;
  log::Log& log;
  query::StoreReader* reader;              // null in the collector role: no queries here
  bool serves_ingest;                      // false in the api role
  const pipeline::PipelineSet* pipelines;  // null in the collector role
  const windows::WindowSet* windows;       // null in the collector role
  const Processor* store;                  // null in the collector role
  metrics::HttpMetrics http_metrics;
  query::StreamView dead_letters;   // GET /v1/dead-letters reads these streams
  query::StreamView alert_streams;  // GET /v1/alerts
  std::vector<std::string> stream_list = stream_names(config);
  std::map<std::string, std::vector<std::string>> stats_fields = [this] {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [name, stream] : config.streams)
      out[name] = stream.stats_fields;
    return out;
  }();
  // Work that may wait on the network (a Kafka read or end-offset query): tails, metrics,
  // readiness and status pages run there, so an I/O thread never waits for the brokers.
  asio::thread_pool blocking_pool{1};
  // Live tails' reads, apart: however many tails are open, metrics and status pages go on.
  asio::thread_pool tail_pool{2};
  // The readiness checks, apart from everything else (check_readiness_within).
  asio::thread_pool readiness_pool{1};
  std::atomic<int> readiness_checks{0};
  // Store queries: as many threads as the store has read connections.
  asio::thread_pool query_pool{static_cast<std::size_t>(config.store.read_connections)};
  std::map<std::string, std::shared_ptr<const StreamPolicy>> policies;  // by stream
  // What a POST to a stream needs, found with one lookup per request.
  struct IngestTarget {
    const StreamConfig* stream;
    const StreamPolicy* policy;
    metrics::StreamCounters* counters;
    bool accepts_posts;  // false for the streams Sluice writes itself (Config::accepts_posts)
  };
  std::unordered_map<std::string, IngestTarget> ingest_targets;  // by stream
  struct CompatRoute {
    std::string stream;
    std::size_t metric;  // route index in http_metrics
  };
  std::map<std::string, CompatRoute, std::less<>> routes;  // by path
  RateLimiter per_ip;
  RateLimiter per_key;
  RateLimiter read_per_ip;  // GETs but /healthz and /readyz
  // Reads need no token: server.public_reads, or no read tokens on a loopback listener.
  bool reads_open;
  std::atomic<int> open_connections{0};  // sessions running, on every I/O thread
  // server.tls: the certificate new connections get; null for plain HTTP.
  std::unique_ptr<TlsContext> tls =
      config.server.tls.enabled() ? std::make_unique<TlsContext>(config.server.tls) : nullptr;
  // One per I/O thread, outliving the contexts: the sessions a stopped context still holds
  // leave their drain when the context is destroyed.
  std::vector<std::unique_ptr<ConnectionDrain>> drains = make_drains(config.server.io_threads);
  // One io_context per I/O thread (concurrency hint 1); the first also runs the acceptor and
  // the signal handler.
  std::vector<std::unique_ptr<asio::io_context>> contexts = make_contexts(config.server.io_threads);
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
    stop_timer.expires_after(config.server.stop_timeout);
    stop_timer.async_wait([this](const boost::system::error_code& error) {
      if (error) return;  // every context drained in time
      logger("http")->warn(
          "server.stop_timeout ({} ms) passed with requests still in progress: closing their "
          "connections",
          config.server.stop_timeout.count());
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

  // Each context runs on one thread and its sockets are used from that thread only (the
  // acceptor on the first thread only registers a new socket with its context, and that
  // registration keeps its lock), so the reactor's per-socket locks can go; posting to a context
  // from other threads (log completions, stop()) keeps the scheduler's lock.
  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int count) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < std::max(count, 1); ++i)
      out.push_back(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    return out;
  }

  static std::vector<std::unique_ptr<ConnectionDrain>> make_drains(int count) {
    std::vector<std::unique_ptr<ConnectionDrain>> out;
    for (int i = 0; i < std::max(count, 1); ++i)
      out.push_back(std::make_unique<ConnectionDrain>());
    return out;
  }

  static std::vector<std::unique_ptr<CompletionInbox>> make_inboxes(
      const std::vector<std::unique_ptr<asio::io_context>>& contexts) {
    std::vector<std::unique_ptr<CompletionInbox>> out;
    out.reserve(contexts.size());
    for (const auto& context : contexts)
      out.push_back(std::make_unique<CompletionInbox>(*context));
    return out;
  }
};

Server::Server(const Config& config, log::Log& log, ServedParts parts)
    : impl_(std::make_unique<Impl>(config, log, parts)) {}

Server::~Server() = default;

unsigned short Server::bind() {
  const auto& listen = impl_->config.server.listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(host, std::to_string(port));
  tcp::endpoint endpoint = *endpoints.begin();
  auto& acceptor = impl_->acceptor;
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
  asio::co_spawn(impl.io, impl.sample_rates(), asio::detached);
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
  // A tail's read in progress finishes before the I/O contexts go away.
  impl.blocking_pool.stop();
  impl.blocking_pool.join();
  impl.tail_pool.stop();
  impl.tail_pool.join();
  impl.readiness_pool.stop();
  impl.readiness_pool.join();
  impl.query_pool.stop();
  impl.query_pool.join();
}

bool Server::reload_tls() {
  if (!impl_->tls) return false;
  if (auto reloaded = impl_->tls->reload(); !reloaded) {
    logger("http")->error("TLS certificate not reloaded, the current one stays: {}",
                          reloaded.error().message);
    return false;
  }
  logger("http")->info("TLS certificate reloaded cert_file={}", impl_->config.server.tls.cert_file);
  return true;
}

void Server::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_stop(); });
}

}  // namespace sluice::http
