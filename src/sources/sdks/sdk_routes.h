#pragma once
// The endpoints of the analytics SDKs that sites already run (routes with a `protocol`:
// Segment, PostHog, Snowplow), so a site switches to Sluice by changing the SDK's host. Each
// SDK's paths and field mapping are in a file of its own (segment.cc, posthog.cc,
// snowplow.cc) and named in the table in sdk_routes.cc; their posts go through the collector
// like any other (write keys, origins, bots, the id cookie, the stream's rules, the log).

#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/router.h"
#include "sources/http/collector.h"

namespace sluice::sdks {

// What an SDK's file uses to register one route's endpoints.
class SdkPaths {
 public:
  using PathOptions = collector::PathOptions;
  using BodyOverride = collector::BodyOverride;
  // What a request's own query asks of its body (PostHog's ?compression=gzip-js).
  using Override = std::function<BodyOverride(const http::Call& call)>;

  SdkPaths(const RouteConfig& route, collector::Collector& collector, http::Router& router,
           std::deque<collector::BodyFormat>& formats, std::deque<PathOptions>& options)
      : route_(route),
        collector_(collector),
        router_(router),
        formats_(formats),
        options_(options) {}

  const RouteConfig& route() const { return route_; }
  collector::Collector& collector() { return collector_; }
  // The route's prefix before an SDK's own path.
  std::string under(std::string_view path) const { return route_.path + std::string(path); }

  // Options that live as long as the routes: `settings` reading bodies in `format`.
  const PathOptions& options(collector::BodyFormat format, PathOptions settings = {});
  // A collector path: POST stores events read with `options`, OPTIONS answers the preflight.
  void post(std::string_view path, const PathOptions& options, const Override& override = {});
  // Any other answer under the prefix (settings an SDK loads, a pixel).
  void add(std::string_view path, std::string allow, http::Handler handler);

 private:
  const RouteConfig& route_;
  collector::Collector& collector_;
  http::Router& router_;
  std::deque<collector::BodyFormat>& formats_;
  std::deque<PathOptions>& options_;
};

class SdkRoutes {
 public:
  SdkRoutes(const Config& config, collector::Collector& collector)
      : config_(config), collector_(collector) {}
  SdkRoutes(const SdkRoutes&) = delete;
  SdkRoutes& operator=(const SdkRoutes&) = delete;

  void add_routes(http::Router& router);

 private:
  const Config& config_;
  collector::Collector& collector_;
  std::deque<collector::BodyFormat> formats_;  // deques: the routes keep their addresses
  std::deque<SdkPaths::PathOptions> options_;
};

// Each SDK's registration, and how its bodies are read (its own file). `type`: the type a
// single message posted to that type's path gets when it names none; empty for batches.
void add_segment(SdkPaths& paths);
void add_posthog(SdkPaths& paths);
void add_snowplow(SdkPaths& paths);
collector::BodyFormat segment_format(std::string_view type);
collector::BodyFormat posthog_format();
collector::BodyFormat snowplow_format();

// The JSON text of a string.
std::string json_text(std::string_view text);
// A path segment percent-decoded; as sent when it is not well formed.
std::string decoded_segment(std::string_view segment);

}  // namespace sluice::sdks
