#pragma once
// What a role serves through the front door: the routes, metrics and readiness checks of the
// parts it runs, registered with the server by their owners. The parts a role does not run
// answer 404 saying where to ask instead.

#include <memory>
#include <optional>

#include "config/config.h"
#include "http/server.h"
#include "log/log.h"
#include "query/read_routes.h"
#include "query/store_reader.h"
#include "sources/http/collector.h"
#include "sources/sdks/sdk_routes.h"
#include "web/asset_routes.h"

namespace sluice {
class Processor;
namespace pipeline {
class PipelineSet;
}
namespace windows {
class WindowSet;
}
}  // namespace sluice

namespace sluice::app {

struct Parts {
  bool collect = true;                               // the collector's routes (not in sluice api)
  query::StoreReader* reader = nullptr;              // the query API (not in sluice collector)
  const Processor* store = nullptr;                  // the store writer (sluice run)
  const pipeline::PipelineSet* pipelines = nullptr;  // sluice run
  const windows::WindowSet* windows = nullptr;       // sluice run
};

// Made after the server and destroyed before it; serves for as long as it lives.
class ServedParts {
 public:
  ServedParts(const Config& config, log::Log& log, http::Server& server, Parts parts);

 private:
  std::optional<collector::Collector> collector_;
  std::optional<collector::CollectorMetrics> no_collector_;  // zero counts for GET /v1/streams
  std::optional<query::ReadRoutes> reads_;
  std::optional<sdks::SdkRoutes> sdk_routes_;   // the analytics SDKs' endpoints
  std::optional<web::AssetRoutes> web_assets_;  // tracker.js and /demo, beside the collector
};

}  // namespace sluice::app
