// The collector's per-event work (sources/http/ingest.cc: validate, read envelope fields, encode
// records, checksum the frame) against its ceiling measured in the same run: a bare simdjson
// on-demand walk that visits every token of the same body and builds nothing.
//
// Run through bench/run, which prints events/s for both and the ratio.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "sources/http/ingest.h"
#include "sources/sdks/sdk_routes.h"

namespace {

namespace od = simdjson::ondemand;

// `count` events of about 200 bytes in the tracker's shape, as NDJSON.
std::string make_body(int count) {
  std::string body;
  for (int i = 0; i < count; ++i) {
    body += R"({"event_id":"e-)" + std::to_string(i) +
            R"(","event_type":"CLICK","timestamp":1760355000123,"page_path":"/shop/items",)"
            R"("component_name":"BuyButton","user_metadata":{"userId":)" +
            std::to_string(i % 977) + R"(,"sessionId":"s-8f2a41"},"value":12.5})" + "\n";
  }
  return body;
}

simdjson::error_code walk(od::value v) {
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto field : o) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value child;
        if (auto e = field.value().get(child)) return e;
        if (auto e = walk(child)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto element : a) {
        od::value child;
        if (auto e = element.get(child)) return e;
        if (auto e = walk(child)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number n;
      return v.get_number().get(n);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null:
      return simdjson::SUCCESS;
  }
  return simdjson::INCORRECT_TYPE;
}

constexpr int kEventsPerBody = 100;

void BM_BaselineSimdjsonWalk(benchmark::State& state) {
  const std::string body = make_body(kEventsPerBody);
  simdjson::padded_string padded(body);
  od::parser parser;
  for (auto _ : state) {
    // One iterate per line, as the collector does for NDJSON.
    std::string_view text(padded.data(), padded.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      od::document doc;
      if (parser
              .iterate(text.data() + pos, end - pos,
                       padded.size() - pos + simdjson::SIMDJSON_PADDING)
              .get(doc)) {
        state.SkipWithError("iterate failed");
        return;
      }
      od::value root;
      if (doc.get_value().get(root) || walk(root)) {
        state.SkipWithError("walk failed");
        return;
      }
      pos = end + 1;
    }
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerBody);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

// The same events as a JSON array, or in a tracker's batch envelope with two fields of its own.
std::string as_array(const std::string& ndjson) {
  std::string body = "[";
  for (std::size_t pos = 0; pos < ndjson.size();) {
    const std::size_t end = ndjson.find('\n', pos);
    if (body.size() > 1) body += ',';
    body.append(ndjson, pos, end - pos);
    pos = end + 1;
  }
  return body + "]";
}

std::string as_envelope(const std::string& ndjson) {
  return R"({"appName":"shop-web","appVersion":"2.1.0","events":)" + as_array(ndjson) + "}";
}

// Parses `body` as the collector does for `stream`, read in `format` (the stream's own when
// null), into one partition.
void parse_body_as(benchmark::State& state, const sluice::StreamConfig& stream,
                   const std::string& body, sluice::collector::BodyKind kind,
                   const sluice::collector::BodyFormat* format = nullptr) {
  auto policy = sluice::collector::StreamPolicy::build(stream);
  if (!policy) {
    state.SkipWithError(policy.error().message.c_str());
    return;
  }
  const auto own = sluice::collector::BodyFormat::of(stream);
  const sluice::collector::IngestContext context{.stream = stream,
                                                 .policy = *policy.value(),
                                                 .format = format ? *format : own,
                                                 .received_at_ms = 1760355000000};
  std::string work;
  for (auto _ : state) {
    work = body;  // the request owns its body; copying it is part of a request's cost
    auto batch = sluice::collector::parse_body(work, kind, context);
    if (!batch || batch.value().accepted() != kEventsPerBody) {
      state.SkipWithError("parse failed");
      return;
    }
    batch.value().partitions[0].seal();
    benchmark::DoNotOptimize(batch.value().partitions[0].frame().data());
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerBody);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

// The tracker-shaped events as NDJSON, or as `shape` makes them.
void parse_as(benchmark::State& state, const sluice::StreamConfig& stream,
              std::string (*shape)(const std::string&) = nullptr) {
  const std::string events = make_body(kEventsPerBody);
  parse_body_as(state, stream, shape ? shape(events) : events,
                shape ? sluice::collector::BodyKind::kJson : sluice::collector::BodyKind::kNdjson);
}

sluice::StreamConfig web_stream() {
  return {.name = "web",
          .id_field = "event_id",
          .key_field = "",
          .time_field = "timestamp",
          .type_field = "event_type",
          .envelope_fields = {"events", "batch"}};
}

void BM_CollectorParseEvents(benchmark::State& state) {
  parse_as(state, web_stream());
}

// The same events under a JSON Schema (valijson) with a pattern and a nested object: every
// event is parsed into a DOM, validated and written anew.
void BM_CollectorParseEventsWithSchema(benchmark::State& state) {
  sluice::StreamConfig stream = web_stream();
  stream.schema = R"({"type":"object","required":["event_id","event_type","timestamp"],
    "properties":{"event_id":{"type":"string","maxLength":64},
      "event_type":{"enum":["CLICK","VIEW","SCROLL"]},"timestamp":{"type":"integer"},
      "page_path":{"type":"string","pattern":"^/"},"value":{"type":"number","minimum":0},
      "user_metadata":{"type":"object","properties":{"userId":{"type":"integer"}}}}})";
  parse_as(state, stream);
}

void BM_CollectorParseArray(benchmark::State& state) {
  parse_as(state, web_stream(), as_array);
}

// The same events in a batch envelope: its fields are added to every event.
void BM_CollectorParseEnvelope(benchmark::State& state) {
  parse_as(state, web_stream(), as_envelope);
}

// Each SDK's batch body as its Node SDK sends it (captured from @segment/analytics-node 3.1.0,
// posthog-node 5.74.0 and @snowplow/node-tracker 4.8.0), against the same events as a plain
// JSON array read with the same field names.
std::string segment_events() {
  std::string out;
  for (int i = 0; i < kEventsPerBody; ++i) {
    out += R"({"timestamp":"2026-12-04T23:35:55.494Z","integrations":{},"event":"Order Completed",)"
           R"("type":"track","properties":{"order":)" +
           std::to_string(i) +
           R"(,"total":9.5,"currency":"EUR"},"context":{"library":{"name":)"
           R"("@segment/analytics-node","version":"3.1.0"}},"userId":"u-)" +
           std::to_string(i % 977) + R"(","messageId":"node-next-1796427355494-2a69af8c-)" +
           std::to_string(100000 + i) +
           R"(","_metadata":{"nodeVersion":"v20.20.2","jsRuntime":"node"}})" + "\n";
  }
  return out;
}

std::string posthog_events() {
  std::string out;
  for (int i = 0; i < kEventsPerBody; ++i) {
    out += R"({"event":"file uploaded","properties":{"size":)" + std::to_string(i) +
           R"(,"$lib":"posthog-node","$lib_version":"5.74.0","$is_server":true,)"
           R"("$geoip_disable":true},"timestamp":"2026-12-04T23:35:55.635Z","uuid":)"
           R"("01a2436a-15f3-724e-8fb3-80b5367)" +
           std::to_string(10000 + i) + R"(","distinct_id":"d-)" + std::to_string(i % 977) +
           R"("})" + "\n";
  }
  return out;
}

std::string snowplow_events() {
  std::string out;
  for (int i = 0; i < kEventsPerBody; ++i) {
    out += R"({"e":"se","se_ca":"checkout","se_ac":"pay","se_la":"card","eid":)"
           R"("9ad0bb08-df75-4a4a-98fd-c0330c9)" +
           std::to_string(10000 + i) +
           R"(","p":"srv","tv":"node-4.8.0","tna":"ns","aid":"shop","dtm":"1796427355666",)"
           R"("stm":"1796427355668","duid":"c3a2f547-)" +
           std::to_string(i % 977) + R"("})" + "\n";
  }
  return out;
}

std::string segment_body(const std::string& events) {
  return R"({"batch":)" + as_array(events) +
         R"(,"writeKey":"wk-1","sentAt":"2026-12-04T23:35:55.500Z"})";
}
std::string posthog_body(const std::string& events) {
  return R"({"api_key":"phc_key","batch":)" + as_array(events) +
         R"(,"sent_at":"2026-12-04T23:35:55.637Z"})";
}
std::string snowplow_body(const std::string& events) {
  return R"({"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",)"
         R"("data":)" +
         as_array(events) + "}";
}

void parse_sdk(benchmark::State& state, const std::string& body,
               const sluice::collector::BodyFormat& format) {
  parse_body_as(state, web_stream(), body, sluice::collector::BodyKind::kJson, &format);
}

void BM_SdkSegmentArray(benchmark::State& state) {
  parse_sdk(state, as_array(segment_events()), sluice::sdks::segment_format(""));
}
void BM_SdkSegmentBatch(benchmark::State& state) {
  parse_sdk(state, segment_body(segment_events()), sluice::sdks::segment_format(""));
}
void BM_SdkPosthogArray(benchmark::State& state) {
  parse_sdk(state, as_array(posthog_events()), sluice::sdks::posthog_format());
}
void BM_SdkPosthogBatch(benchmark::State& state) {
  parse_sdk(state, posthog_body(posthog_events()), sluice::sdks::posthog_format());
}
void BM_SdkSnowplowArray(benchmark::State& state) {
  parse_sdk(state, as_array(snowplow_events()), sluice::sdks::snowplow_format());
}
void BM_SdkSnowplowBatch(benchmark::State& state) {
  parse_sdk(state, snowplow_body(snowplow_events()), sluice::sdks::snowplow_format());
}

BENCHMARK(BM_BaselineSimdjsonWalk);
BENCHMARK(BM_CollectorParseArray);
BENCHMARK(BM_CollectorParseEnvelope);
BENCHMARK(BM_CollectorParseEvents);
BENCHMARK(BM_CollectorParseEventsWithSchema);
BENCHMARK(BM_SdkSegmentArray);
BENCHMARK(BM_SdkSegmentBatch);
BENCHMARK(BM_SdkPosthogArray);
BENCHMARK(BM_SdkPosthogBatch);
BENCHMARK(BM_SdkSnowplowArray);
BENCHMARK(BM_SdkSnowplowBatch);

}  // namespace

BENCHMARK_MAIN();
