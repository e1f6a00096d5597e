// The Snowplow tracker protocol, as @snowplow/node-tracker and @snowplow/browser-tracker send
// it.
//
// POST /com.snowplowanalytics.snowplow/tp2 takes {"schema": "iglu:...payload_data...",
// "data": [events]}; GET /i takes one event as its query (the pixel) and answers a 1×1 GIF.
// Each event is kept with the protocol's field names and values as sent (text): id eid, time
// dtm (the device's time, epoch milliseconds), type e (pv, pp, se, ue, tr...), partition key
// duid; the envelope's schema is not kept. Self-describing events (ue_pr, ue_px) and
// contexts (co, cx) stay as the tracker encoded them: JSON text, or base64url for ue_px / cx.

#include <string_view>

#include "sources/sdks/sdk_routes.h"

namespace sluice::sdks {
namespace {

namespace bhttp = boost::beast::http;

// A transparent 1×1 GIF.
constexpr unsigned char kPixel[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

// The pixel's event, stored as a POSTed form would be; answered with the image when kept.
http::Task<http::Reply> answer_pixel(collector::Collector& collector, http::Request& req,
                                     std::string stream, std::string client_ip,
                                     const SdkPaths::PathOptions& pixel) {
  SdkPaths::BodyOverride form;
  form.kind = collector::BodyKind::kForm;
  auto res = co_await collector.ingest(req, std::move(stream), std::move(client_ip), pixel, form);
  if (res.status == 202) {
    res.status = 200;
    res.body.assign(reinterpret_cast<const char*>(kPixel), sizeof kPixel);
    res.content_type = "image/gif";
    res.set("Cache-Control", "no-store");
  }
  co_return res;
}

}  // namespace

collector::BodyFormat snowplow_format() {
  return {.fields = {.id = "eid", .key = "duid", .time = "dtm", .type = "e", .type_fallback = {}},
          .envelope_fields = {"data"},
          .dropped = {"schema"},
          .defaults = {}};
}

void add_snowplow(SdkPaths& paths) {
  const collector::BodyFormat format = snowplow_format();
  // The browser tracker posts with its cookies.
  paths.post("/com.snowplowanalytics.snowplow/tp2", paths.options(format, {.credentials = true}));
  // The browser tracker fetches its GET requests too, with cookies: the answer needs CORS.
  const auto& pixel = paths.options(format, {.credentials = true, .query_body = true});
  paths.add("/i", "GET",
            [&collector = paths.collector(), stream = paths.route().stream, &pixel](
                http::Request& req, const http::Call& call) -> http::Task<http::Reply> {
              if (auto refused = collector.refuse_before_body(req, stream, pixel)) {
                return http::ready(std::move(*refused));
              }
              if (call.url.encoded_query().empty()) {
                return http::ready(http::error_answer(
                    req, make_error(Errc::kInvalidInput,
                                    "GET /i takes one event as its query, such as "
                                    "?e=pv&eid=<uuid>&dtm=<epoch ms>&url=<page>")));
              }
              req.body() = std::string(call.url.encoded_query());
              return answer_pixel(collector, req, stream, call.client_ip, pixel);
            });
}

}  // namespace sluice::sdks
