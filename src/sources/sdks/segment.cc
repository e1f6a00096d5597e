// The Segment HTTP tracking API, as @segment/analytics-node and the analytics.js browser
// library (@segment/analytics-next) send it.
//
// POST /v1/track, /v1/page, /v1/identify, /v1/screen, /v1/group, /v1/alias take one message
// (analytics.js uses /v1/t, /v1/p, /v1/i, /v1/s, /v1/g, /v1/a); /v1/batch, /v1/b and /v1/import
// take {"batch": [messages], ...}. Each message is an event as sent: id messageId, time
// timestamp, type its `event` name (track) or else its `type`, partition key anonymousId.
// The write key (Basic auth, the user name) is the stream's write key; the body's writeKey is
// not kept. GET /v1/projects/{key}/settings answers what analytics.js loads before it sends
// (its `cdnURL` pointed here), naming this server as its API host.

#include <fmt/format.h>

#include <array>
#include <boost/beast/http/field.hpp>

#include "sources/sdks/sdk_routes.h"

namespace sluice::sdks {
namespace {

namespace bhttp = boost::beast::http;

}  // namespace

collector::BodyFormat segment_format(std::string_view type) {
  collector::BodyFormat format{.fields = {.id = "messageId",
                                          .key = "anonymousId",
                                          .time = "timestamp",
                                          .type = "event",
                                          .type_fallback = "type"},
                               .envelope_fields = {"batch"},
                               .dropped = {"writeKey"},
                               .defaults = {}};
  // A single message posted to its type's path may leave its type out.
  if (!type.empty()) format.defaults.push_back({.name = "type", .json = json_text(type)});
  return format;
}

namespace {

// analytics.js's settings: its Segment.io destination sends to this server.
http::Reply settings(const http::Request& req, const http::Call& call, const RouteConfig& route) {
  const auto host = req[bhttp::field::host];
  const auto forwarded = req["X-Forwarded-Proto"];
  const std::string_view scheme = forwarded == "https" ? "https" : "http";
  const std::string api_host =
      fmt::format("{}{}/v1", std::string_view(host.data(), host.size()), route.path);
  auto res = http::answer(
      req, 200,
      fmt::format("{{\"integrations\":{{\"Segment.io\":{{\"apiKey\":{},\"apiHost\":{},"
                  "\"protocol\":\"{}\",\"unbundledIntegrations\":[],"
                  "\"addBundledMetadata\":true}}}},\"plan\":{{\"track\":{{\"__default\":"
                  "{{\"enabled\":true,\"integrations\":{{}}}}}},\"identify\":{{\"__default\":"
                  "{{\"enabled\":true}}}},\"group\":{{\"__default\":{{\"enabled\":true}}}}}},"
                  "\"edgeFunction\":{{}},\"analyticsNextEnabled\":true,"
                  "\"middlewareSettings\":{{}},\"enabledMiddleware\":{{}},"
                  "\"metrics\":{{\"sampleRate\":0}},\"legacyVideoPluginsEnabled\":false,"
                  "\"remotePlugins\":[]}}",
                  json_text(decoded_segment(call.param)), json_text(api_host), scheme));
  // Public: any page that has the write key may load it, as from Segment's CDN.
  res.set("Access-Control-Allow-Origin", "*");
  res.set("Cache-Control", "max-age=300");
  return res;
}

}  // namespace

void add_segment(SdkPaths& paths) {
  constexpr std::array<std::array<std::string_view, 3>, 6> kSingle = {{
      {"track", "t", "track"},
      {"page", "p", "page"},
      {"identify", "i", "identify"},
      {"screen", "s", "screen"},
      {"group", "g", "group"},
      {"alias", "a", "alias"},
  }};
  for (const auto& [name, short_name, type] : kSingle) {
    const auto& options = paths.options(segment_format(type), {.credentials = true});
    paths.post(fmt::format("/v1/{}", name), options);
    paths.post(fmt::format("/v1/{}", short_name), options);
  }
  const auto& batch = paths.options(segment_format(""), {.credentials = true});
  for (std::string_view name : {"/v1/batch", "/v1/b", "/v1/import"})
    paths.post(name, batch);
  paths.add("/v1/projects/{key}/settings", "GET",
            [&route = paths.route()](http::Request& req, const http::Call& call) {
              return http::ready(settings(req, call, route));
            });
}

}  // namespace sluice::sdks
