// PostHog's capture API, as posthog-node and posthog-js send it.
//
// POST /batch, /e, /capture, /track and /i/v0/e (with or without a trailing slash) take one
// event, an array of events or {"api_key": ..., "batch": [events]}, JSON or gzip (Content-
// Encoding, posthog-js's ?compression=gzip-js, or no word of it: gzip's magic bytes). Each event is
// kept as sent: id uuid, time timestamp, type event, partition key distinct_id; the envelope's
// api_key is not kept. /flags and /decide (feature flags) and /array/{token}/config[.js] (remote
// configuration) answer that there are no flags, no recordings and no surveys, so the SDK goes on
// sending events only.

#include <fmt/format.h>

#include "sources/sdks/sdk_routes.h"

namespace sluice::sdks {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::string_view kConfig =
    R"({"supportedCompression":["gzip-js"],"sessionRecording":false,"heatmaps":false,)"
    R"("surveys":false,"autocapture_opt_out":false,"capturePerformance":false,)"
    R"("autocaptureExceptions":false,"siteApps":[],"elementsChainAsString":true,)"
    R"("hasFeatureFlags":false,"defaultIdentifiedOnly":true,"toolbarParams":{},)"
    R"("isAuthenticated":false})";

std::string flags_json() {
  std::string text(kConfig);
  text.pop_back();
  text += R"(,"config":{"enable_collect_everything":true},"featureFlags":{},)"
          R"("featureFlagPayloads":{},"flags":{},"errorsWhileComputingFlags":false,)"
          R"("quotaLimited":[],"requestId":""})";
  return text;
}

http::Reply public_answer(const http::Request& req, std::string body,
                          std::string_view content_type = "application/json") {
  auto res = http::answer(req, 200, std::move(body));
  res.content_type = content_type;  // a literal
  res.set("Access-Control-Allow-Origin", "*");
  return res;
}

}  // namespace

collector::BodyFormat posthog_format() {
  return {.fields = {.id = "uuid",
                     .key = "distinct_id",
                     .time = "timestamp",
                     .type = "event",
                     .type_fallback = {}},
          .envelope_fields = {"batch"},
          .dropped = {"api_key"},
          .defaults = {}};
}

void add_posthog(SdkPaths& paths) {
  const auto& options = paths.options(posthog_format());
  // posthog-js compresses its text/plain bodies, naming that in the query or not at all.
  auto compression = [](const http::Call& call) {
    SdkPaths::BodyOverride body;
    body.gzip_magic = true;
    if (call.url.has_query()) {
      auto it = call.url.params().find("compression");
      if (it != call.url.params().end() && (*it).value == "gzip-js") body.encoding = "gzip";
    }
    return body;
  };
  for (std::string_view path : {"/batch", "/e", "/capture", "/track", "/i/v0/e"}) {
    paths.post(path, options, compression);
    paths.post(std::string(path) + "/", options, compression);
  }
  const std::string flags = flags_json();
  auto answer_flags = [flags](http::Request& req, const http::Call&) {
    return http::ready(public_answer(req, flags));
  };
  for (std::string_view path : {"/flags", "/flags/", "/decide", "/decide/"})
    paths.add(path, "GET, POST", answer_flags);
  paths.add("/array/{token}/config", "GET", [](http::Request& req, const http::Call&) {
    return http::ready(public_answer(req, std::string(kConfig)));
  });
  paths.add("/array/{token}/config.js", "GET", [](http::Request& req, const http::Call& call) {
    // The token is the client's own text: written as a JSON string, it stays one.
    return http::ready(public_answer(
        req,
        fmt::format("(window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {{}})"
                    "[{}] = {{config: {}, siteApps: []}};\n",
                    json_text(decoded_segment(call.param)), kConfig),
        "text/javascript"));
  });
}

}  // namespace sluice::sdks
