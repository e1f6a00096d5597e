#include "sources/http/collector.h"

#include <fmt/format.h>

#include <stdexcept>

#include "core/json_text.h"
#include "core/logging.h"
#include "core/signature.h"
#include "core/time.h"
#include "core/uuid.h"
#include "http/keys.h"
#include "http/target.h"
#include "sources/http/append.h"
#include "sources/http/bots.h"
#include "sources/http/dead_letter.h"
#include "sources/http/decompress.h"

namespace sluice::collector {
namespace {

namespace bhttp = boost::beast::http;
using http::Reply;
using http::Request;
using http::Task;

// The request's Origin when it names a page that the stream's cors_origins do not allow and
// that is not this server itself (browsers send Origin on same-origin POSTs too).
std::optional<std::string> foreign_origin(const Request& header, const StreamConfig& stream) {
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

void allow_origin(const Request& req, const StreamConfig& stream, bool credentials, Reply& res) {
  auto origin = req[bhttp::field::origin];
  if (origin.empty()) return;
  auto allowed = stream.allowed_origin(std::string_view(origin.data(), origin.size()));
  if (allowed.empty()) return;
  res.set("Access-Control-Allow-Origin", allowed);
  if (credentials) res.set("Access-Control-Allow-Credentials", "true");
  res.set("Vary", "Origin");
}

// 202 (or the path's own status) with the counts, 400 when nothing was accepted; or a form's 303
// to its thank-you page.
Reply ingest_answer(const Request& req, const StreamConfig& stream, const PathOptions& path,
                    std::size_t accepted, const std::vector<Rejection>& rejected) {
  const unsigned status = accepted > 0 ? path.accepted_status : 400;
  if (path.form && accepted > 0 && !stream.form.redirect.empty()) {
    auto res = http::answer(req, 303, "");
    res.set("Location", stream.form.redirect);
    res.content_type = {};
    return res;
  }
  return http::answer(req, status, ingest_response_json(accepted, rejected));
}

// The visitor's id from the id cookie, when the request has one this server could have set
// (a UUID's 36 characters); else a new one.
std::string visitor_id(const Request& req, const IdCookieConfig& cookie, std::int64_t now) {
  const auto [first, last] = req.equal_range(bhttp::field::cookie);
  for (auto header = first; header != last; ++header) {
    std::string_view rest(header->value().data(), header->value().size());
    while (!rest.empty()) {
      const auto semicolon = rest.find(';');
      const std::string_view pair = trim(rest.substr(0, semicolon));
      rest = semicolon == std::string_view::npos ? "" : rest.substr(semicolon + 1);
      const auto equals = pair.find('=');
      if (equals == std::string_view::npos || pair.substr(0, equals) != cookie.name) continue;
      const std::string_view value = pair.substr(equals + 1);
      if (value.size() == 36 &&
          value.find_first_not_of("0123456789abcdef-") == std::string_view::npos) {
        return std::string(value);
      }
    }
  }
  const auto id = uuid_v7_text(now);
  return std::string(id.data(), id.size());
}

std::string id_cookie_header(const IdCookieConfig& cookie, const std::string& id) {
  return fmt::format("{}={}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{}", cookie.name, id,
                     cookie.max_age.count() / 1000, cookie.secure ? "; Secure" : "");
}

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

Collector::Collector(const Config& config, log::Log& log)
    : config_(config),
      log_(log),
      metrics_(config.stream_names()),
      per_key_(config.server.rate_limit.per_key, config.server.rate_limit.burst) {
  for (const auto& [name, stream] : config.streams) {
    auto policy = StreamPolicy::build(stream);
    if (!policy) throw std::runtime_error("streams." + name + ": " + policy.error().message);
    policies_.emplace(name, std::move(policy.value()));
  }
  for (const auto& [name, stream] : config.streams) {
    targets_.emplace(name, Target{.stream = &stream,
                                  .policy = policies_.at(name).get(),
                                  .counters = metrics_.stream(name),
                                  .accepts_posts = config.accepts_posts(stream),
                                  .format = BodyFormat::of(stream)});
  }
}

void Collector::add_routes(http::Router& router) {
  // A path's stream: the placeholder, or the one a compatibility path names.
  auto add = [&](std::string pattern, const std::string& stream, const PathOptions& path) {
    const bool named = !stream.empty();
    auto stream_of = [named, stream](const http::Call& call) {
      return named ? stream : std::string(call.param);
    };
    router.add({.pattern = std::move(pattern),
                .allow = "POST, OPTIONS",
                .access = http::Access::kOpen,
                .handler =
                    [this, stream_of, &path](Request& req, const http::Call& call) {
                      return collect(req, stream_of(call), call, path);
                    },
                .stream = {},
                .precheck =
                    [this, stream_of, &path](const Request& header, const http::Call& call) {
                      return refuse_before_body(header, stream_of(call), path);
                    },
                .body_padding = kBodyPadding});
  };
  add("/v1/streams/{stream}/events", "", events_path_);
  add("/v1/forms/{form}", "", form_path_);
  for (const auto& [name, route] : config_.routes) {
    if (route.protocol != "events") continue;
    auto& options = route_paths_[name];
    options.accepted_status = static_cast<unsigned>(route.status);
    add(route.path, route.stream, options);
  }
  for (const auto& [name, stream] : config_.streams) {
    if (stream.form.enabled && !stream.form.path.empty()) add(stream.form.path, name, form_path_);
  }
}

// A collector path: POST stores events, OPTIONS answers the CORS preflight (the front door
// answers other methods). Not a coroutine: ingest's frame is the one between a request and
// its append.
Task<Reply> Collector::collect(Request& req, std::string stream, const http::Call& call,
                               const PathOptions& path) {
  if (req.method() == bhttp::verb::post) {
    return ingest(req, std::move(stream), call.client_ip, path);
  }
  return http::ready(preflight(req, stream, path));
}

// On a POST's headers, before its body is read: an unknown stream (404), a stream that takes
// no posts (403), a missing or wrong write key (401, 403), a key over its rate (429).
// nullopt lets the body be read.
std::optional<Reply> Collector::refuse_before_body(const Request& header,
                                                   const std::string& stream_name,
                                                   const PathOptions& path) {
  if (header.method() != bhttp::verb::post && !path.query_body) return std::nullopt;
  const bool form = path.form;
  auto target = targets_.find(stream_name);
  if (target == targets_.end() || (form && !target->second.stream->form.enabled)) {
    return http::error_answer(
        header, make_error(Errc::kNotFound, fmt::format("unknown {} \"{}\"",
                                                        form ? "form" : "stream", stream_name)));
  }
  std::optional<Reply> refused;
  if (!target->second.accepts_posts) {
    refused = http::error_answer(
        header, make_error(Errc::kForbidden,
                           fmt::format("stream \"{0}\" is written by Sluice itself (dead "
                                       "letters, alerts, late events or window results) and "
                                       "takes no posts; set streams.{0}.ingest: true to allow "
                                       "them",
                                       stream_name)));
  } else if (auto origin = foreign_origin(header, *target->second.stream)) {
    // A browser's simple POST (a form, sendBeacon's text/plain) has no preflight: the
    // origin is checked here, or any page on the web could post.
    refused = http::error_answer(
        header,
        make_error(Errc::kForbidden, fmt::format("origin \"{}\" may not post to stream "
                                                 "\"{}\"; add it to streams.{}.cors_origins",
                                                 *origin, stream_name, stream_name)));
  } else {
    refused = admit(header, *target->second.stream);
    if (!refused) refused = refuse_signature_time(header, *target->second.stream);
  }
  if (refused) finish(header, stream_name, path, *refused);
  return refused;
}

// A stream with hmac_secrets, on the headers: the signature header is there, well formed,
// and its time within hmac_tolerance. The HMAC itself needs the body (signature::matches).
std::optional<Reply> Collector::refuse_signature_time(const Request& header,
                                                      const StreamConfig& stream) const {
  if (stream.hmac_secrets.empty()) return std::nullopt;
  const auto value = header[signature::kHeader];
  if (value.empty()) {
    return http::error_answer(
        header, make_error(Errc::kUnauthorized,
                           fmt::format("stream \"{0}\" takes signed posts only: send {1}: "
                                       "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + "
                                       "the body> (streams.{0}.hmac_secrets)",
                                       stream.name, signature::kHeader)));
  }
  const auto parsed = signature::parse(std::string_view(value.data(), value.size()));
  if (!parsed) {
    return http::error_answer(
        header, make_error(Errc::kUnauthorized, fmt::format("{}: expected t=<unix seconds>,v1=<64 "
                                                            "hex digits>",
                                                            signature::kHeader)));
  }
  const std::int64_t skew = parsed->unix_seconds - now_ms() / 1000;
  const std::int64_t tolerance = stream.hmac_tolerance.count() / 1000;
  if (skew > tolerance || skew < -tolerance) {
    return http::error_answer(
        header,
        make_error(Errc::kUnauthorized,
                   fmt::format("{}: the timestamp is {} s from the server's clock, more than "
                               "streams.{}.hmac_tolerance ({} s)",
                               signature::kHeader, skew, stream.name, tolerance)));
  }
  return std::nullopt;
}

// Who may post: the stream's write keys and the per-key rate limit. nullopt lets the request
// in.
std::optional<Reply> Collector::admit(const Request& req, const StreamConfig& stream) {
  // Most streams take anonymous posts: their requests need no key, so none is looked for.
  if (stream.write_keys.empty() && !per_key_.enabled()) return std::nullopt;
  const std::string key = http::presented_key(
      req, http::target_url(std::string_view(req.target().data(), req.target().size())));
  if (!stream.write_keys.empty()) {
    if (key.empty()) {
      return http::error_answer(
          req, make_error(Errc::kUnauthorized,
                          fmt::format("stream \"{}\" needs a write key: send Authorization: "
                                      "Bearer <key>, X-Sluice-Key: <key> or ?key=<key>",
                                      stream.name)));
    }
    bool known = false;
    for (const auto& allowed : stream.write_keys)
      known = known || http::same_key(key, allowed);
    if (!known) {
      return http::error_answer(
          req, make_error(Errc::kForbidden,
                          fmt::format("the key is not a write key of stream \"{}\"", stream.name)));
    }
  }
  // Only keys that were checked are counted: any other string would be a new entry in the
  // limiter's table, and a stranger could grow it without bound.
  if (!key.empty() && !stream.write_keys.empty()) {
    if (int wait = per_key_.take(key)) {
      const auto& limit = config_.server.rate_limit;
      auto res = http::answer(
          req, 429,
          http::error_json(fmt::format("rate limit exceeded for this key "
                                       "(server.rate_limit.per_key: {} requests per second, "
                                       "burst {}); retry in {} s",
                                       limit.per_key, limit.burst, wait)));
      res.set("Retry-After", std::to_string(wait));
      return res;
    }
  }
  return std::nullopt;
}

// Everything before the append, on the I/O thread: the answer already (unknown stream,
// refused, malformed body), or the events to append.
std::variant<Reply, Collector::Parsed> Collector::parse(Request& req,
                                                        const std::string& stream_name,
                                                        const std::string& client_ip,
                                                        const PathOptions& path,
                                                        const BodyOverride& given) {
  const bool form = path.form;
  auto target = targets_.find(stream_name);
  if (target == targets_.end() || (form && !target->second.stream->form.enabled)) {
    return http::error_answer(
        req, make_error(Errc::kNotFound,
                        fmt::format("unknown {} \"{}\"", form ? "form" : "stream", stream_name)));
  }
  const StreamConfig& posted_to = *target->second.stream;
  // Who may post was settled before the body was read (refuse_before_body), but for the
  // HMAC of a signed post, which covers the body as sent.
  if (!posted_to.hmac_secrets.empty()) {
    const auto value = req[signature::kHeader];
    const auto parsed = signature::parse(std::string_view(value.data(), value.size()));
    if (!parsed || !signature::matches(*parsed, posted_to.hmac_secrets, req.body())) {
      return http::error_answer(
          req, make_error(Errc::kUnauthorized, fmt::format("{} does not match the body under any "
                                                           "of streams.{}.hmac_secrets",
                                                           signature::kHeader, stream_name)));
    }
  }
  const auto received_at = now_ms();
  // The fields the server sets, from the stream the post came to; a bot's events may go on
  // to a stream of their own.
  std::vector<ServerField> server_fields;
  std::string set_cookie;
  if (!posted_to.id_cookie.name.empty()) {
    auto id = visitor_id(req, posted_to.id_cookie, received_at);
    set_cookie = id_cookie_header(posted_to.id_cookie, id);
    server_fields.push_back({.name = posted_to.id_cookie.field, .json = json_string(id)});
  }
  if (!posted_to.bots.field.empty()) {
    const auto agent = req[bhttp::field::user_agent];
    if (auto marker =
            bot_marker(std::string_view(agent.data(), agent.size()), posted_to.bots.user_agents)) {
      server_fields.push_back({.name = posted_to.bots.field, .json = json_string(*marker)});
      if (!posted_to.bots.stream.empty()) target = targets_.find(posted_to.bots.stream);
    }
  }
  const StreamConfig& stream = *target->second.stream;
  StreamCounters& counters = *target->second.counters;
  counters.bytes.fetch_add(req.body().size(), std::memory_order_relaxed);
  auto content_type = req[bhttp::field::content_type];
  std::string* body = &req.body();
  std::string inflated;
  const auto header_encoding = req[bhttp::field::content_encoding];
  std::string_view encoding =
      !given.encoding.empty() ? std::string_view(given.encoding)
                              : std::string_view(header_encoding.data(), header_encoding.size());
  if (encoding.empty() && given.gzip_magic && body->size() >= 2 &&
      static_cast<unsigned char>((*body)[0]) == 0x1f &&
      static_cast<unsigned char>((*body)[1]) == 0x8b) {
    encoding = "gzip";
  }
  if (!encoding.empty()) {
    auto decompressed = decompress_body(encoding, *body, config_.server.max_body_bytes);
    if (!decompressed) return http::error_answer(req, decompressed.error());
    inflated = std::move(decompressed.value());
    body = &inflated;
  }
  auto kind = given.kind
                  ? Result<BodyKind>(*given.kind)
                  : body_kind(std::string_view(content_type.data(), content_type.size()), *body);
  if (!kind) return http::error_answer(req, kind.error());
  // A bot's events going to a stream of their own are read as the path reads them.
  const BodyFormat& format = path.format ? *path.format : target->second.format;
  IngestContext context{.stream = stream,
                        .policy = *target->second.policy,
                        .format = format,
                        .received_at_ms = received_at,
                        .client_ip = client_ip,
                        .server_fields = std::move(server_fields),
                        .form = form,
                        .keep_rejected = !stream.dead_letter.empty()};
  auto parsed = parse_body(*body, kind.value(), context);
  if (!parsed) return http::error_answer(req, parsed.error());
  counters.received.fetch_add(parsed.value().accepted() + parsed.value().rejected.size(),
                              std::memory_order_relaxed);
  for (const auto& rejection : parsed.value().rejected) {
    const auto reason = rejection.malformed ? RejectReason::kMalformed : RejectReason::kInvalid;
    counters.rejected[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  return Parsed{.stream = &stream,
                .counters = &counters,
                .received_at_ms = received_at,
                .batch = std::move(parsed.value()),
                .set_cookie = std::move(set_cookie)};
}

// POST to a collector path. The one coroutine frame between a request and its append.
Task<Reply> Collector::ingest(Request& req, std::string stream_name, std::string client_ip,
                              const PathOptions& path, BodyOverride body) {
  auto parsed = parse(req, stream_name, client_ip, path, body);
  Reply res;
  if (auto* answer = std::get_if<Reply>(&parsed)) {
    res = std::move(*answer);
  } else {
    Parsed& events = std::get<Parsed>(parsed);
    const std::size_t accepted = events.batch.accepted();
    Result<void> appended = boost::outcome_v2::success();
    if (accepted > 0) {
      appended =
          co_await async_append(log_, events.stream->name, std::move(events.batch.partitions),
                                metrics_.append_latency(), http::kAwait);
      if (appended) events.counters->accepted.fetch_add(accepted, std::memory_order_relaxed);
    }
    if (!appended) {
      res = http::error_answer(req, appended.error());
    } else {
      if (!events.batch.rejected.empty() && !events.stream->dead_letter.empty()) {
        co_await keep_dead_letters(events.stream->name, events);
      }
      res = ingest_answer(req, *events.stream, path, accepted, events.batch.rejected);
      if (!events.set_cookie.empty()) res.headers.emplace_back("Set-Cookie", events.set_cookie);
    }
  }
  finish(req, stream_name, path, res);
  co_return res;
}

// The rejected events, to the stream's dead-letter stream. The accepted events are durable
// already: the client's answer does not depend on this.
Task<void> Collector::keep_dead_letters(const std::string& stream_name, const Parsed& events) {
  const auto& dead = config_.streams.at(events.stream->dead_letter);
  auto dead_batches =
      dead_letter_batches(events.batch.rejected, stream_name, dead, events.received_at_ms);
  auto kept = co_await async_append(log_, dead.name, std::move(dead_batches),
                                    metrics_.append_latency(), http::kAwait);
  if (!kept) {
    logger("http")->warn("dead letters lost stream={} count={} error=\"{}\"", dead.name,
                         events.batch.rejected.size(), kept.error().message);
  }
}

// CORS: a browser asks with OPTIONS before a cross-origin POST with JSON; allowed origins are
// per stream (streams.<name>.cors_origins).
Reply Collector::preflight(const Request& req, const std::string& stream_name,
                           const PathOptions& path) const {
  auto stream = config_.streams.find(stream_name);
  if (stream == config_.streams.end()) {
    return http::error_answer(
        req, make_error(Errc::kNotFound, fmt::format("unknown stream \"{}\"", stream_name)));
  }
  const auto origin = std::string(req[bhttp::field::origin]);
  const auto allowed = stream->second.allowed_origin(origin);
  if (allowed.empty()) {
    return http::answer(req, 403,
                        http::error_json(fmt::format("origin \"{}\" may not post to stream "
                                                     "\"{}\"; add it to streams.{}.cors_origins",
                                                     origin, stream_name, stream_name)));
  }
  Reply res{.status = 204, .keep_alive = req.keep_alive(), .version = req.version()};
  res.content_type = {};
  res.set("Access-Control-Allow-Origin", allowed);
  if (path.credentials) res.set("Access-Control-Allow-Credentials", "true");
  res.set("Access-Control-Allow-Methods", "POST, OPTIONS");
  res.set("Access-Control-Allow-Headers",
          "Content-Type, Content-Encoding, Authorization, X-Sluice-Key");
  res.set("Access-Control-Max-Age", "600");
  res.set("Vary", "Origin");
  return res;
}

// What every answer to a POST on a collector path gets: its CORS header, a count by status.
void Collector::finish(const Request& req, const std::string& stream, const PathOptions& path,
                       Reply& res) {
  auto target = targets_.find(stream);
  if (target == targets_.end()) return;  // an unknown stream: nothing to allow or count
  allow_origin(req, *target->second.stream, path.credentials, res);
  target->second.counters->requests[http::status_index(res.status)].fetch_add(
      1, std::memory_order_relaxed);
}

}  // namespace sluice::collector
