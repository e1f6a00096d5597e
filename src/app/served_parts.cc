#include "app/served_parts.h"

#include "log/log_report.h"
#include "metrics/process_stats.h"
#include "pipeline/pipeline_report.h"
#include "pipeline/status_route.h"
#include "processor/processor.h"
#include "processor/processor_report.h"
#include "windows/status_route.h"
#include "windows/window_report.h"

namespace sluice::app {
namespace {

// The collector's paths in a process without it: 404 for any method.
void add_absent_collector(const Config& config, http::Router& router, bool processor) {
  const char* message = processor ? "this is a processor (sluice processor): events are posted "
                                    "to a collector"
                                  : "this process serves queries only (sluice api): events "
                                    "are posted to a collector";
  auto absent = [&router, message](std::string pattern) {
    router.add({.pattern = std::move(pattern),
                .allow = "",
                .access = http::Access::kOpen,
                .handler = [message](http::Request& req, const http::Call&) {
                  return http::ready(http::error_answer(req, make_error(Errc::kNotFound, message)));
                }});
  };
  absent("/v1/streams/{stream}/events");
  absent("/v1/forms/{form}");
  for (const auto& [name, route] : config.routes) {
    if (!route.sdk()) absent(route.path);
  }
}

// "pipelines" or "windows" in a process that does not run them.
std::string runs_elsewhere(std::string_view what, bool serves_queries) {
  return serves_queries ? "this process serves queries only: " + std::string(what) +
                              " run in sluice run and sluice processor"
                        : "this is a collector: " + std::string(what) +
                              " run in the processes that run them (sluice run, sluice processor)";
}

}  // namespace

ServedParts::ServedParts(const Config& config, log::Log& log, http::Server& server, Parts parts) {
  http::Router& routes = server.routes();
  metrics::Registry& metrics = server.metrics();
  health::Checks& health = server.health();

  metrics.add([&log](metrics::Families& f) { log::collect_metrics(log, f); });
  health.add([&log] { return log::readiness(log); });

  // The collector's routes first: most requests are posts.
  std::function<void(std::string&, const std::string&)> intake;
  if (parts.collect) {
    auto& collector = collector_.emplace(config, log);
    collector.add_routes(routes);
    sdk_routes_.emplace(config, collector).add_routes(routes);
    web_assets_.emplace().add_routes(routes);
    metrics.add([&collector](metrics::Families& f) { collector.metrics().collect(f); });
    server.every_second(
        [&collector] { collector.metrics().sample(std::chrono::steady_clock::now()); });
    intake = [&collector](std::string& out, const std::string& stream) {
      collector.metrics().append_json(out, stream);
    };
  } else {
    add_absent_collector(config, routes, parts.store != nullptr);
    auto& none = no_collector_.emplace(config.stream_names());
    intake = [&none](std::string& out, const std::string& stream) {
      none.append_json(out, stream);
    };
  }

  auto& reads = reads_.emplace(query::ReadParts{.config = config,
                                                .log = log,
                                                .reader = parts.reader,
                                                .store = parts.store,
                                                .windows = parts.windows,
                                                .intake = std::move(intake)},
                               server);
  reads.add_routes(routes);

  if (parts.store || parts.reader) {
    health.add([store = parts.store, reader = parts.reader] {
      std::string error = store ? store->failing() : "";
      if (error.empty() && reader) error = query::read_error(*reader);
      return health::Check{.name = "store", .ok = error.empty(), .error = error, .state = {}};
    });
  }
  if (parts.store) {
    metrics.add([&log, store = parts.store](metrics::Families& f) {
      collect_store_metrics(log, *store, f);
    });
  }

  const bool serves_queries = parts.reader != nullptr;
  if (const auto* pipelines = parts.pipelines) {
    pipeline::add_status_route(routes, *pipelines, server.status_work());
    metrics.add([pipelines](metrics::Families& f) { pipeline::collect_metrics(*pipelines, f); });
    health.add_group("pipelines", [pipelines] { return pipeline::readiness(*pipelines); });
  } else {
    routes.add(http::absent_route("/v1/pipelines", runs_elsewhere("pipelines", serves_queries)));
  }
  if (const auto* windows = parts.windows) {
    windows::add_status_route(routes, *windows, server.status_work());
    metrics.add([windows](metrics::Families& f) { windows::collect_metrics(*windows, f); });
    health.add_group("windows", [windows] { return windows::readiness(*windows); });
  } else {
    routes.add(http::absent_route("/v1/windows", runs_elsewhere("windows", serves_queries)));
  }

  metrics.add([data_dir = config.storage.data_dir](metrics::Families& f) {
    metrics::collect_disk(f, data_dir);
    metrics::collect_process(f);
  });
}

}  // namespace sluice::app
