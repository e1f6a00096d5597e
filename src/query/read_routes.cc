#include "query/read_routes.h"

#include <fmt/format.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/pct_string_view.hpp>
#include <set>

#include "processor/processor.h"
#include "query/stats_query.h"
#include "query/streams_status.h"
#include "query/window_results.h"
#include "windows/window_set.h"

namespace sluice::query {
namespace {

using http::Call;
using http::Reply;
using http::Request;
using http::Task;

constexpr const char* kCollectorOnly =
    "this is a collector: events are read from the processes that run the store (sluice run, "
    "sluice api)";
constexpr const char* kProcessorOnly =
    "this is a processor: it writes the store; events are read from sluice run or sluice api";

// The streams that take dead letters (of streams and pipelines), those configured as streams.
StreamView dead_letter_view(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, stream] : config.streams) {
    if (!stream.dead_letter.empty()) names.insert(stream.dead_letter);
  }
  for (const auto& [name, pipeline] : config.pipelines) {
    if (!pipeline.dead_letter.empty()) names.insert(pipeline.dead_letter);
  }
  if (config.streams.contains("dead_letters")) names.insert("dead_letters");
  StreamView view{{}, {{"source", "stream"}, {"pipeline", "pipeline"}, {"sink", "sink"}}};
  for (const auto& name : names) {
    if (config.streams.contains(name)) view.streams.push_back(name);
  }
  return view;
}

// The streams that take the alert rules' alerts.
StreamView alert_view(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, alert] : config.alerts)
    names.insert(alert.stream);
  if (config.streams.contains("alerts")) names.insert("alerts");
  StreamView view{{}, {{"rule", "rule"}, {"severity", "severity"}}};
  for (const auto& name : names) {
    if (config.streams.contains(name)) view.streams.push_back(name);
  }
  return view;
}

Reply body_answer(const Request& req, Result<std::string>& body) {
  if (!body) return http::error_answer(req, body.error());
  return http::answer(req, 200, std::move(body.value()));
}

}  // namespace

Params query_params(const boost::urls::url_view& url) {
  Params params;
  for (const auto& p : url.params()) {
    if (p.key != "token") params.emplace_back(p.key, p.value);
  }
  return params;
}

ReadRoutes::ReadRoutes(ReadParts parts, http::Server& server)
    : parts_(std::move(parts)),
      status_work_(server.status_work()),
      store_work_(server.add_pool(static_cast<std::size_t>(parts_.config.store.read_connections))),
      tail_work_(server.add_pool(2)),
      dead_letters_(dead_letter_view(parts_.config)),
      alerts_(alert_view(parts_.config)) {
  for (const auto& [name, stream] : parts_.config.streams) {
    stream_list_.push_back(name);
    stats_fields_[name] = stream.stats_fields;
  }
  server.metrics().add([this](metrics::Families& f) {
    f.gauge("sluice_tail_clients", "GET /v1/tail connections open now.", {},
            static_cast<double>(tail_clients_.load(std::memory_order_relaxed)));
  });
}

void ReadRoutes::add_routes(http::Router& router) {
  auto get = [&router](std::string pattern, http::Handler handler) {
    router.add({.pattern = std::move(pattern),
                .allow = "GET",
                .access = http::Access::kRead,
                .handler = std::move(handler)});
  };
  const bool stored = parts_.reader != nullptr;
  auto from_store = [&](std::string pattern, http::Handler handler) {
    if (stored) {
      get(std::move(pattern), std::move(handler));
    } else {
      const char* message = parts_.store ? kProcessorOnly : kCollectorOnly;
      get(std::move(pattern), [message](Request& req, const Call&) {
        return http::ready(http::error_answer(req, make_error(Errc::kNotFound, message)));
      });
    }
  };
  from_store("/v1/events", [this](Request& req, const Call& call) { return events(req, call); });
  for (const auto& [name, route] : parts_.config.routes) {
    if (route.protocol != "events-api") continue;
    from_store(route.path, [this, stream = route.stream](Request& req, const Call& call) {
      return events_api(req, call, stream);
    });
  }
  from_store("/v1/events/{id*}",
             [this](Request& req, const Call& call) { return event(req, call); });
  get("/v1/streams", [this](Request& req, const Call& call) { return streams(req, call); });
  from_store("/v1/dead-letters",
             [this](Request& req, const Call& call) { return view(req, call, dead_letters_); });
  from_store("/v1/alerts",
             [this](Request& req, const Call& call) { return view(req, call, alerts_); });
  from_store("/v1/stats", [this](Request& req, const Call& call) { return stats(req, call); });
  if (stored) {
    router.add({.pattern = "/v1/sql",
                .allow = "POST",
                .access = http::Access::kRead,
                .handler = [this](Request& req, const Call& call) { return sql(req, call); }});
  } else {
    const char* message = parts_.store ? kProcessorOnly : kCollectorOnly;
    router.add({.pattern = "/v1/sql",
                .allow = "POST",
                .access = http::Access::kRead,
                .handler = [message](Request& req, const Call&) {
                  return http::ready(http::error_answer(req, make_error(Errc::kNotFound, message)));
                }});
  }
  get("/v1/windows/{name*}",
      [this](Request& req, const Call& call) { return window_results(req, call); });
  router.add({.pattern = "/v1/tail",
              .allow = "GET",
              .access = http::Access::kRead,
              .handler = {},
              .stream = [this](Request& req, const Call& call, http::AnswerStream& out) {
                return tail(req, call, out);
              }});
}

Task<Reply> ReadRoutes::events(Request& req, const Call& call) {
  const Params params = query_params(call.url);
  auto body = co_await store_work_.run([&] { return query_events(*parts_.reader, params); });
  co_return body_answer(req, body);
}

// The tracking API's parameters, each an equality on the payload field of its name.
constexpr std::array<std::string_view, 4> kEventsApiFilters = {"event_type", "location_type",
                                                               "component_name", "page_path"};

Task<Reply> ReadRoutes::events_api(Request& req, const Call& call, const std::string& stream) {
  Params params{{"stream", stream}};
  bool limited = false;
  for (const auto& [name, value] : query_params(call.url)) {
    if (name == "limit") {
      params.emplace_back("limit", value);
      limited = true;
    } else if (std::find(kEventsApiFilters.begin(), kEventsApiFilters.end(), name) !=
               kEventsApiFilters.end()) {
      std::string where = name;
      where += ":eq:";
      where += value;
      params.emplace_back("where", std::move(where));
    } else {
      co_return http::error_answer(
          req, make_error(Errc::kInvalidInput,
                          fmt::format("unknown parameter \"{}\": this path takes event_type, "
                                      "location_type, component_name, page_path and limit",
                                      name.substr(0, 64))));
    }
  }
  if (!limited) params.emplace_back("limit", "100");
  auto body = co_await store_work_.run([&] { return query_events(*parts_.reader, params); });
  if (!body) co_return http::error_answer(req, body.error());
  // The events' payloads as one JSON array, newest first, as the tracking API answered.
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 256;  // events nest up to 64 levels, inside the page's own
  auto page = boost::json::parse(body.value(), ec, {}, options);
  std::string out = "[";
  if (!ec && page.is_object()) {
    if (const auto* events = page.as_object().if_contains("events"); events && events->is_array()) {
      for (const auto& event : events->as_array()) {
        if (out.size() > 1) out += ',';
        const auto* payload =
            event.is_object() ? event.as_object().if_contains("payload") : nullptr;
        out += payload ? boost::json::serialize(*payload) : "{}";
      }
    }
  }
  out += ']';
  co_return http::answer(req, 200, std::move(out));
}

Task<Reply> ReadRoutes::event(Request& req, const Call& call) {
  const auto id = boost::urls::make_pct_string_view(call.param);
  if (!id) co_return http::error_answer(req, make_error(Errc::kInvalidInput, "malformed event id"));
  // The id as sent, percent-decoded (ids may hold any character). A local, not a lambda
  // capture: GCC 12 destroys non-trivial captures of a lambda in a co_await operand twice.
  const std::string decoded = id->decode();
  const Params params = query_params(call.url);
  auto body = co_await store_work_.run(
      [&] { return query_event(*parts_.reader, decoded, params, stream_list_); });
  co_return body_answer(req, body);
}

Task<Reply> ReadRoutes::streams(Request& req, const Call& call) {
  const Params params = query_params(call.url);
  auto body = co_await status_work_.run([&] {
    return query_streams({.config = parts_.config,
                          .log = parts_.log,
                          .intake = parts_.intake,
                          .store = parts_.store,
                          .reader = parts_.reader},
                         params);
  });
  co_return body_answer(req, body);
}

Task<Reply> ReadRoutes::view(Request& req, const Call& call, const StreamView& view) {
  const Params params = query_params(call.url);
  auto body = co_await store_work_.run([&] { return query_view(*parts_.reader, view, params); });
  co_return body_answer(req, body);
}

Task<Reply> ReadRoutes::stats(Request& req, const Call& call) {
  if (parts_.store && !parts_.store->statistics_ready()) {
    co_return http::error_answer(
        req, make_error(Errc::kUnavailable,
                        "the statistics are not ready: they are counted again from the "
                        "stored events at start when a stream's stats_fields changed (or "
                        "the store cannot be reached yet); try again in a moment"));
  }
  const Params params = query_params(call.url);
  auto body =
      co_await store_work_.run([&] { return query_stats(*parts_.reader, stats_fields_, params); });
  co_return body_answer(req, body);
}

Task<Reply> ReadRoutes::window_results(Request& req, const Call& call) {
  if (!parts_.windows) {
    co_return http::error_answer(
        req,
        make_error(Errc::kNotFound, parts_.reader ? "this process serves queries only: windows "
                                                    "run in sluice run"
                                                  : "this is a collector: windows run in the "
                                                    "processes that run them (sluice run)"));
  }
  const std::string name(call.param);
  const auto window = parts_.windows->find(name);  // as running now (SIGHUP may change them)
  if (!window) {
    co_return http::error_answer(
        req, make_error(Errc::kNotFound, fmt::format("no window named \"{}\"", name)));
  }
  const Params params = query_params(call.url);
  // On the store's threads: the window store may be a PostgreSQL server that is slow or away,
  // which must never hold up an I/O thread (and the collector's requests on it).
  const std::string location = parts_.config.storage.windows_location();
  auto body =
      co_await store_work_.run([&] { return query_window_results(location, *window, params); });
  co_return body_answer(req, body);
}

}  // namespace sluice::query
