#include "sources/sdks/sdk_routes.h"

#include <algorithm>
#include <array>
#include <boost/beast/http/verb.hpp>
#include <boost/url/pct_string_view.hpp>

#include "core/json_text.h"

namespace sluice::sdks {
namespace {

namespace bhttp = boost::beast::http;

struct Sdk {
  std::string_view protocol;
  void (*add)(SdkPaths&);
};

// One line per SDK.
constexpr std::array<Sdk, 3> kSdks = {{
    {"segment", add_segment},
    {"posthog", add_posthog},
    {"snowplow", add_snowplow},
}};

}  // namespace

std::string json_text(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::string decoded_segment(std::string_view segment) {
  const auto encoded = boost::urls::make_pct_string_view(segment);
  return encoded ? encoded->decode() : std::string(segment);
}

const SdkPaths::PathOptions& SdkPaths::options(collector::BodyFormat format, PathOptions settings) {
  settings.format = &formats_.emplace_back(std::move(format));
  return options_.emplace_back(settings);
}

void SdkPaths::post(std::string_view path, const PathOptions& options, const Override& override) {
  const std::string stream = route_.stream;
  router_.add(
      {.pattern = under(path),
       .allow = "POST, OPTIONS",
       .access = http::Access::kOpen,
       .handler = [this_collector = &collector_, stream, &options, override](
                      http::Request& req, const http::Call& call) -> http::Task<http::Reply> {
         if (req.method() != bhttp::verb::post) {
           return http::ready(this_collector->preflight(req, stream, options));
         }
         return this_collector->ingest(req, stream, call.client_ip, options,
                                       override ? override(call) : BodyOverride{});
       },
       .stream = {},
       .precheck =
           [this_collector = &collector_, stream, &options](const http::Request& header,
                                                            const http::Call&) {
             return this_collector->refuse_before_body(header, stream, options);
           },
       .body_padding = collector::kBodyPadding});
}

void SdkPaths::add(std::string_view path, std::string allow, http::Handler handler) {
  router_.add({.pattern = under(path),
               .allow = std::move(allow),
               .access = http::Access::kOpen,
               .handler = std::move(handler),
               .stream = {},
               .precheck = {},
               .body_padding = 0});
}

void SdkRoutes::add_routes(http::Router& router) {
  for (const auto& [name, route] : config_.routes) {
    const auto* sdk = std::find_if(kSdks.begin(), kSdks.end(), [&](const Sdk& candidate) {
      return candidate.protocol == route.protocol;
    });
    if (sdk == kSdks.end()) continue;  // the collector's own paths
    SdkPaths paths(route, collector_, router, formats_, options_);
    sdk->add(paths);
  }
}

}  // namespace sluice::sdks
