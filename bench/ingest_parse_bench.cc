// The collector's per-event work (sources/http/ingest.cc: validate, read envelope fields, encode
// records, checksum the frame) against its ceiling measured in the same run: a bare simdjson
// on-demand walk that visits every token of the same body and builds nothing.
//
// Run through bench/run, which prints events/s for both and the ratio.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "sources/http/ingest.h"

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

// Parses the body as the collector does for `stream` (NDJSON unless told, one partition).
void parse_as(benchmark::State& state, const sluice::StreamConfig& stream,
              std::string (*shape)(const std::string&) = nullptr) {
  const std::string body = shape ? shape(make_body(kEventsPerBody)) : make_body(kEventsPerBody);
  const auto kind =
      shape ? sluice::collector::BodyKind::kJson : sluice::collector::BodyKind::kNdjson;
  auto policy = sluice::collector::StreamPolicy::build(stream);
  if (!policy) {
    state.SkipWithError(policy.error().message.c_str());
    return;
  }
  const auto format = sluice::collector::BodyFormat::of(stream);
  const sluice::collector::IngestContext context{.stream = stream,
                                                 .policy = *policy.value(),
                                                 .format = format,
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

BENCHMARK(BM_BaselineSimdjsonWalk);
BENCHMARK(BM_CollectorParseArray);
BENCHMARK(BM_CollectorParseEnvelope);
BENCHMARK(BM_CollectorParseEvents);
BENCHMARK(BM_CollectorParseEventsWithSchema);

}  // namespace

BENCHMARK_MAIN();
