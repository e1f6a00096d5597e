#include "sources/http/ingest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>
#include <set>

#include "core/bytes.h"
#include "log/log_format.h"
#include "sources/http/dead_letter.h"
#include "sources/http/privacy.h"
#include "sources/sdks/sdk_routes.h"

namespace sluice::collector {
namespace {

using ::testing::HasSubstr;

const StreamConfig kStream{.name = "events",
                           .id_field = "id",
                           .key_field = "user",
                           .time_field = "timestamp",
                           .type_field = "type",
                           .envelope_fields = {"events", "batch"}};
constexpr std::int64_t kNow = 1760355000000;

// Decodes the records of every partition's batch, partition by partition.
std::vector<EventView> events_of(IngestBatch& batch) {
  std::vector<EventView> out;
  for (auto& records : batch.partitions) {
    records.seal();
    std::string_view frame = records.frame();
    std::size_t pos = log::kFrameHeaderSize;
    while (pos < frame.size()) {
      auto length = load_le<std::uint32_t>(frame.data() + pos);
      pos += log::kRecordLengthSize;
      auto event = decode_event(frame.substr(pos, length));
      EXPECT_TRUE(event);
      out.push_back(*event);
      pos += length;
    }
  }
  return out;
}

// Parses `body` as the server does: content type first, then the body under the stream's rules.
Result<IngestBatch> ingest(std::string& body, std::string_view type, const StreamConfig& stream,
                           bool form = false, std::string_view client_ip = "",
                           std::vector<ServerField> server_fields = {},
                           const BodyFormat* format = nullptr) {
  auto policy = StreamPolicy::build(stream);
  if (!policy) return policy.error();
  auto kind = body_kind(type, body);
  if (!kind) return kind.error();
  const BodyFormat own = BodyFormat::of(stream);
  IngestContext context{.stream = stream,
                        .policy = *policy.value(),
                        .format = format ? *format : own,
                        .received_at_ms = kNow,
                        .client_ip = client_ip,
                        .server_fields = std::move(server_fields),
                        .form = form,
                        .keep_rejected = true};
  return parse_body(body, kind.value(), context);
}

Result<IngestBatch> parse(std::string body, std::string_view type = "application/json") {
  // Tests that inspect events use parse_into: the records are copied, but the body must stay.
  return ingest(body, type, kStream);
}

struct Parsed {
  std::string body;
  Result<IngestBatch> result = make_error(Errc::kInternal, "unset");
};

void parse_into(Parsed& p, std::string body, std::string_view type = "application/json") {
  p.body = std::move(body);
  p.result = ingest(p.body, type, kStream);
}

TEST(Ingest, SingleObjectKeepsItsBytesAndReadsTheEnvelopeFields) {
  Parsed p;
  parse_into(p, R"(  {"id": "e1", "type":"TEMP", "user": 42, "timestamp":"2025-10-13T11:30:00Z",
    "value" : "ALERT:90"}  )");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.id, "e1");
  EXPECT_EQ(e.type, std::optional<std::string_view>("TEMP"));
  EXPECT_EQ(e.key, std::optional<std::string_view>("42"));
  EXPECT_EQ(e.ts_ms, 1760355000000);
  EXPECT_EQ(e.received_at_ms, kNow);
  EXPECT_EQ(e.payload,
            R"({"id": "e1", "type":"TEMP", "user": 42, "timestamp":"2025-10-13T11:30:00Z",
    "value" : "ALERT:90"})");
}

TEST(Ingest, EnvelopeFieldsAreAddedToEachEventsOwnText) {
  // The events keep their bytes; the envelope's fields follow as sent, unless the event has
  // the field itself; an envelope field can be what the stream reads the time from.
  Parsed p;
  parse_into(p, R"({"app": {"name": "shop", "v": 2.10}, "events": [
      {"id": "a", "n" : 1},
      {"id": "b", "app": "own"},
      {},
      {"id": "c", "timestamp": "2025-10-13T11:30:00Z"}],
    "say \"hi\"": [1, 2], "timestamp": "2025-10-13T11:31:00Z"})");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 4u);
  std::map<std::string, std::string> payloads;
  std::map<std::string, std::int64_t> times;
  for (const auto& e : events) {
    payloads[std::string(e.id)] = std::string(e.payload);
    times[std::string(e.id)] = e.ts_ms;
  }
  EXPECT_EQ(payloads.at("a"),
            R"({"id": "a", "n" : 1,"app":{"name": "shop", "v": 2.10},"say \"hi\"":[1, 2],)"
            R"("timestamp":"2025-10-13T11:31:00Z"})");
  EXPECT_EQ(payloads.at("b"),
            R"({"id": "b", "app": "own","say \"hi\"":[1, 2],"timestamp":"2025-10-13T11:31:00Z"})");
  EXPECT_EQ(payloads.at("c"),
            R"({"id": "c", "timestamp": "2025-10-13T11:30:00Z","app":{"name": "shop", "v": 2.10},)"
            R"("say \"hi\"":[1, 2]})");
  EXPECT_EQ(times.at("a"), 1760355060000);  // the envelope's time
  EXPECT_EQ(times.at("c"), 1760355000000);  // its own
  // The empty event: only the envelope's fields, and a generated id.
  for (const auto& [id, payload] : payloads) {
    if (id == "a" || id == "b" || id == "c") continue;
    EXPECT_EQ(payload, R"({"app":{"name": "shop", "v": 2.10},"say \"hi\"":[1, 2],)"
                       R"("timestamp":"2025-10-13T11:31:00Z"})");
  }
}

TEST(Ingest, EnvelopeFieldsTheStreamDoesNotReadKeepEachEventsCheck) {
  // No envelope field is one the stream reads: each event keeps what its own check read.
  Parsed p;
  parse_into(p,
             R"({"appName": "shop" , "events": [{"id": "a", "user": 7, "timestamp": 1760355000000},
      { }, {"id": "b", "appName": "own"}], "v": [1, {"x": null}]})");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 3u);
  std::map<std::string, EventView> by_id;
  for (const auto& e : events)
    by_id[e.id == "a" || e.id == "b" ? std::string(e.id) : "generated"] = e;
  EXPECT_EQ(
      by_id.at("a").payload,
      R"({"id": "a", "user": 7, "timestamp": 1760355000000,"appName":"shop","v":[1, {"x": null}]})");
  EXPECT_EQ(by_id.at("a").key, std::optional<std::string_view>("7"));
  EXPECT_EQ(by_id.at("a").ts_ms, 1760355000000);
  EXPECT_EQ(by_id.at("b").payload, R"({"id": "b", "appName": "own","v":[1, {"x": null}]})");
  EXPECT_EQ(by_id.at("generated").payload, R"({ "appName":"shop","v":[1, {"x": null}]})");
  EXPECT_EQ(by_id.at("generated").ts_ms, kNow);
}

TEST(Ingest, AnEnvelopeCannotRepeatAFieldIntoAHugeBatch) {
  // 200 KB of field over 1000 empty events would be 200 MB of records: refused as too large.
  std::string body = R"({"pad":")" + std::string(200'000, 'x') + R"(","events":[)";
  for (int i = 0; i < 1000; ++i)
    body += i ? ",{}" : "{}";
  body += "]}";
  auto refused = parse(body);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kTooLarge);
  EXPECT_THAT(refused.error().message, HasSubstr("envelope's fields (200009 bytes)"));
  // The same field over 100 events is 20 MB: taken.
  std::string fewer = R"({"pad":")" + std::string(200'000, 'x') + R"(","events":[{})";
  for (int i = 1; i < 100; ++i)
    fewer += ",{}";
  fewer += "]}";
  Parsed p;
  parse_into(p, fewer);
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.result.value().accepted(), 100u);
}

// The server's fields (the id cookie's id, the bot marker) are on every event of every body
// shape, and replace what the event or its envelope says.
// An analytics SDK's format (Segment's /v1/track): its own id, key, time and type fields (the
// type read from a second field when the first is absent), its batch field, a default and a
// dropped field.
TEST(Ingest, ABodyFormatReadsItsOwnFieldsAddsDefaultsAndDropsFields) {
  const BodyFormat format = sdks::segment_format("track");
  struct Case {
    std::string body;
    std::vector<std::string> ids;
    std::vector<std::string> types;
  };
  const std::vector<Case> cases = {
      // One message without its type: the path's default fills it.
      {R"({"messageId":"m1","event":"Signed Up","anonymousId":"a1",)"
       R"("timestamp":"2026-01-02T03:04:05Z"})",
       {"m1"},
       {"Signed Up"}},
      // Its write key is not kept; its own type wins over the default.
      {R"({"messageId":"m2","type":"identify","writeKey":"wk","traits":{"a":1}})",
       {"m2"},
       {"identify"}},
      // A batch: the envelope's writeKey is not added, its sentAt is.
      {R"({"batch":[{"messageId":"m3","type":"page","name":"Home"},)"
       R"({"messageId":"m4","type":"track","event":"X","writeKey":"inner"}],)"
       R"("writeKey":"wk","sentAt":"2026-01-02T03:04:06Z"})",
       {"m3", "m4"},
       {"page", "X"}},
  };
  for (const auto& c : cases) {
    std::string body = c.body;
    auto parsed = ingest(body, "text/plain", kStream, false, "", {}, &format);
    ASSERT_TRUE(parsed) << c.body << ": " << parsed.error().message;
    ASSERT_TRUE(parsed.value().rejected.empty()) << c.body;
    auto events = events_of(parsed.value());
    ASSERT_EQ(events.size(), c.ids.size()) << c.body;
    std::map<std::string, EventView> by_id;
    for (const auto& event : events)
      by_id.emplace(std::string(event.id), event);
    for (std::size_t i = 0; i < c.ids.size(); ++i) {
      ASSERT_TRUE(by_id.contains(c.ids[i])) << c.body;
      const EventView& event = by_id.at(c.ids[i]);
      EXPECT_EQ(event.type.value_or(""), c.types[i]) << c.body;
      auto payload = boost::json::parse(event.payload).as_object();
      EXPECT_FALSE(payload.contains("writeKey")) << event.payload;
      EXPECT_TRUE(payload.contains("type")) << event.payload;
      if (c.ids.size() > 1) {
        EXPECT_EQ(payload.at("sentAt"), "2026-01-02T03:04:06Z");
      }
    }
  }
  std::string one = R"({"messageId":"m1","event":"E","anonymousId":"a1","timestamp":1700000000})";
  auto parsed = ingest(one, "application/json", kStream, false, "", {}, &format);
  ASSERT_TRUE(parsed);
  auto events = events_of(parsed.value());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key.value_or(""), "a1");
  EXPECT_EQ(events[0].ts_ms, 1700000000000);
  EXPECT_EQ(boost::json::parse(events[0].payload).at("type"), "track");
}

TEST(Ingest, ServerFieldsReplaceTheEventsAndTheEnvelopes) {
  const std::vector<ServerField> fields = {{"browser_id", "\"b-1\""}, {"bot", "\"curl/\""}};
  struct Case {
    std::string body;
    std::string type;
    bool form = false;
  };
  const std::vector<Case> cases = {
      {R"({"id":"a","x":1})", "application/json"},
      {R"({"id":"a","x":1,"bot":false})", "application/json"},
      {R"([{"id":"a","x":1},{"id":"b","browser_id":"forged","x":2}])", "application/json"},
      {R"({"events":[{"id":"a","x":1},{"id":"b","x":2,"bot":null}],"bot":"env","app":"z"})",
       "text/plain"},
      {"{\"id\":\"a\",\"x\":1}\n{\"id\":\"b\",\"browser_id\":7,\"x\":2}\n", "application/x-ndjson"},
      {"id=a&x=1", "application/x-www-form-urlencoded", true},
  };
  StreamConfig stream = kStream;
  for (const auto& c : cases) {
    std::string body = c.body;
    auto parsed = ingest(body, c.type, stream, c.form, "", fields);
    ASSERT_TRUE(parsed) << c.body << ": " << parsed.error().message;
    ASSERT_TRUE(parsed.value().rejected.empty()) << c.body;
    for (const auto& event : events_of(parsed.value())) {
      auto payload = boost::json::parse(event.payload).as_object();
      EXPECT_EQ(payload.at("browser_id"), "b-1") << c.body;
      EXPECT_EQ(payload.at("bot"), "curl/") << c.body;
      EXPECT_TRUE(payload.contains("x")) << c.body;
      if (payload.contains("app")) {
        EXPECT_EQ(payload.at("app"), "z");  // the envelope's own
      }
    }
  }
  // A body that is no envelope after all keeps the server's fields for its events.
  std::string two = "{\"id\":\"a\",\"events\":1}\n{\"id\":\"b\"}";
  auto parsed = ingest(two, "application/json", stream, false, "", fields);
  ASSERT_TRUE(parsed);
  auto events = events_of(parsed.value());
  ASSERT_EQ(events.size(), 2u);
  for (const auto& event : events)
    EXPECT_THAT(std::string(event.payload), HasSubstr(R"("bot":"curl/")"));
}

TEST(Ingest, MissingFieldsGetDefaults) {
  Parsed p;
  parse_into(p, R"({"value":1})");
  ASSERT_TRUE(p.result);
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id.size(), 36u);  // a generated UUIDv7
  EXPECT_EQ(events[0].ts_ms, kNow);     // event time defaults to arrival time
  EXPECT_FALSE(events[0].key);
  EXPECT_FALSE(events[0].type);
}

TEST(Ingest, TimesBeforeTheEpochAreKept) {
  Parsed p;
  parse_into(p, R"({"timestamp":"1969-07-20T20:17:00Z"})");
  ASSERT_TRUE(p.result);
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ts_ms, -14182980000);
}

TEST(Ingest, ArrayOfObjectsWithPerEventRejections) {
  Parsed p;
  parse_into(p, R"([{"id":"a"}, 7, {"id":"b","timestamp":"soon"}, {"id":"c","timestamp":1760355000},
                   [1,2], {"id":"d"}])");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto& batch = p.result.value();
  ASSERT_EQ(batch.rejected.size(), 3u);
  EXPECT_EQ(batch.rejected[0].index, 1u);
  EXPECT_EQ(batch.rejected[0].error, "an event must be a JSON object");
  EXPECT_EQ(batch.rejected[1].index, 2u);
  EXPECT_THAT(batch.rejected[1].error, HasSubstr("field \"timestamp\""));
  EXPECT_EQ(batch.rejected[2].index, 4u);
  auto events = events_of(batch);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "a");
  EXPECT_EQ(events[1].id, "c");
  EXPECT_EQ(events[1].ts_ms, 1760355000000);
  EXPECT_EQ(events[1].payload, R"({"id":"c","timestamp":1760355000})");
  EXPECT_EQ(events[2].id, "d");
}

TEST(Ingest, IntegersBeyond64BitsAreKeptAsSent) {
  Parsed p;
  const std::string body =
      R"({"id": 123456789012345678901234567890, "user": -99999999999999999999,)"
      R"( "n": [18446744073709551616, 1e-400, 0.1000000000000000055511151231257827]})";
  parse_into(p, body);
  ASSERT_TRUE(p.result) << p.result.error().message;
  ASSERT_EQ(p.result.value().rejected.size(), 0u) << p.result.value().rejected[0].error;
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "123456789012345678901234567890");
  EXPECT_EQ(events[0].key, std::optional<std::string_view>("-99999999999999999999"));
  EXPECT_EQ(events[0].payload, body);

  // In an envelope's own fields too.
  Parsed envelope;
  parse_into(envelope, R"({"events":[{"id":"a"}], "build": 123456789012345678901234567890})");
  ASSERT_TRUE(envelope.result) << envelope.result.error().message;
  EXPECT_EQ(events_of(envelope.result.value()).size(), 1u);
}

// A number no double can hold would be read downstream as infinity, which JSON cannot write:
// the event is refused with the field named, and the events around it are kept.
// A NUL (\u0000) in an id, key or type, or anywhere in the event, cannot be kept in a SQL text
// column (PostgreSQL refused it, and retried the batch for ever): the event is rejected alone,
// naming the field, and kept for the dead letters as text.
TEST(Ingest, NulCharactersRejectTheirEventAlone) {
  Parsed array;
  parse_into(array, R"([{"id":"a"}, {"id":"a\u0000b"}, {"type":"T\u0000"}, {"user":"\u0000"},
      {"note":{"deep":["x\u0000"]}}, {"k\u0000ey":1}, {"id":"z", "text":"\\u0000 is fine"}])");
  ASSERT_TRUE(array.result) << array.result.error().message;
  const auto& rejected = array.result.value().rejected;
  ASSERT_EQ(rejected.size(), 5u);
  const char* fields[] = {"id", "type", "user", "note", "k"};
  for (std::size_t i = 0; i < rejected.size(); ++i) {
    EXPECT_EQ(rejected[i].index, i + 1);
    EXPECT_THAT(rejected[i].error,
                HasSubstr(std::string("field \"") + fields[i] + "\" holds a NUL"));
    EXPECT_FALSE(rejected[i].event_is_json) << rejected[i].event;
  }
  auto kept = events_of(array.result.value());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].id, "z");

  // A raw NUL byte in a string is a control character: the JSON is refused as malformed.
  std::string raw = std::string(R"([{"id":"r1"},{"id":"r2","x":"a)") + '\0' + R"(b"}])";
  auto refused = ingest(raw, "application/json", kStream);
  EXPECT_FALSE(refused && refused.value().accepted() == 2) << "a raw NUL was kept";

  // Form values are cleaned of control characters; a name is not, and is refused.
  std::string form = "na%00me=a&x=1";
  auto posted = ingest(form, "application/x-www-form-urlencoded", kStream, true);
  ASSERT_TRUE(posted) << posted.error().message;
  ASSERT_EQ(posted.value().rejected.size(), 1u);
  EXPECT_THAT(posted.value().rejected[0].error, HasSubstr("field \"na\" holds a NUL"));
  std::string value = "name=a%00b";
  auto cleaned = ingest(value, "application/x-www-form-urlencoded", kStream, true);
  ASSERT_TRUE(cleaned);
  ASSERT_EQ(cleaned.value().accepted(), 1u);
  EXPECT_EQ(events_of(cleaned.value())[0].payload, R"({"name":"ab"})");
}

// An event time far ahead of the arrival would carry windows' watermarks into the future.
TEST(Ingest, EventTimesTooFarAheadAreClampedOrRejected) {
  Parsed p;
  parse_into(
      p,
      R"([{"id":"a","timestamp":"9999-12-31T00:00:00Z"},{"id":"b","timestamp":"2025-10-13T11:30:00Z"},{"id":"c","timestamp":"2025-10-13T12:29:00Z"}])");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto events = events_of(p.result.value());
  ASSERT_EQ(events.size(), 3u);
  std::map<std::string, std::int64_t> ts;
  for (const auto& e : events)
    ts[std::string(e.id)] = e.ts_ms;
  EXPECT_EQ(ts["a"], kNow);  // clamped to the arrival; the payload keeps what was sent
  EXPECT_EQ(ts["c"], kNow + 59 * 60'000);  // 59 minutes ahead: within the default hour
  for (const auto& e : events) {
    if (e.id == "a") {
      EXPECT_THAT(std::string(e.payload), HasSubstr("9999-12-31"));
    }
  }

  StreamConfig strict = kStream;
  strict.future_time = "dead_letter";
  strict.max_future = std::chrono::minutes(10);
  std::string body = R"([{"id":"a","timestamp":"2025-10-13T12:29:00Z"},{"id":"b"}])";
  auto r = ingest(body, "application/json", strict);
  ASSERT_TRUE(r);
  ASSERT_EQ(r.value().rejected.size(), 1u);
  EXPECT_EQ(r.value().rejected[0].index, 0u);
  EXPECT_THAT(r.value().rejected[0].error, HasSubstr("limit is 600 s (streams.events.max_future)"));
  EXPECT_EQ(events_of(r.value()).size(), 1u);
}

TEST(Ingest, NumbersTooLargeForADoubleRejectTheirEventAlone) {
  const std::string message =
      "field \"a\" holds the number 1.5e400, outside a 64-bit float's range (magnitude at most "
      "about 1.8e308, exponent at most 308)";
  Parsed ndjson;
  parse_into(ndjson,
             "{\"id\":\"x\"}\n{\"id\":\"y\",\"a\":{\"b\":[1, 1.5e400, tru]}}\n{\"id\":\"z\"}",
             "application/x-ndjson");
  ASSERT_TRUE(ndjson.result) << ndjson.result.error().message;
  ASSERT_EQ(ndjson.result.value().rejected.size(), 1u);
  EXPECT_EQ(ndjson.result.value().rejected[0].index, 1u);
  // The rest of the line is still checked: `tru` makes it malformed, not merely too large.
  EXPECT_THAT(ndjson.result.value().rejected[0].error, HasSubstr("malformed JSON"));
  EXPECT_EQ(events_of(ndjson.result.value()).size(), 2u);

  Parsed array;
  parse_into(array, R"([{"id":"x"}, {"id":"y", "a": {"b": [1, 1.5e400]}}, {"id":"z"}])");
  ASSERT_TRUE(array.result) << array.result.error().message;
  ASSERT_EQ(array.result.value().rejected.size(), 1u);
  EXPECT_EQ(array.result.value().rejected[0].index, 1u);
  EXPECT_EQ(array.result.value().rejected[0].error, message);
  // Kept for the dead-letter stream as text: embedded as JSON, readers would take it as infinity.
  EXPECT_FALSE(array.result.value().rejected[0].event_is_json);
  EXPECT_EQ(array.result.value().rejected[0].event, R"({"id":"y", "a": {"b": [1, 1.5e400]}})");
  auto kept = events_of(array.result.value());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].id, "z");

  // A raw NUL byte in a string is a control character: the JSON is refused as malformed.
  std::string raw = std::string(R"([{"id":"r1"},{"id":"r2","x":"a)") + '\0' + R"(b"}])";
  auto refused = ingest(raw, "application/json", kStream);
  EXPECT_FALSE(refused && refused.value().accepted() == 2) << "a raw NUL was kept";

  Parsed not_objects;
  parse_into(not_objects, "[1e400]\n{\"id\":{\"n\":1e400}}\n2e400\n0E-4023456789",
             "application/x-ndjson");
  ASSERT_TRUE(not_objects.result);
  ASSERT_EQ(not_objects.result.value().rejected.size(), 4u);
  for (const auto& rejection : not_objects.result.value().rejected) {
    EXPECT_FALSE(rejection.event_is_json) << rejection.event;
  }

  Parsed negative;
  parse_into(negative, R"({"a": -2E+999})");
  ASSERT_TRUE(negative.result);
  ASSERT_EQ(negative.result.value().rejected.size(), 1u);
  EXPECT_THAT(negative.result.value().rejected[0].error, HasSubstr("the number -2E+999, outside"));

  Parsed id;
  parse_into(id, R"({"id": 1e400})");
  ASSERT_TRUE(id.result);
  ASSERT_EQ(id.result.value().rejected.size(), 1u);
  EXPECT_THAT(id.result.value().rejected[0].error,
              HasSubstr("field \"id\" holds the number 1e400"));

  Parsed time;
  parse_into(time, R"({"timestamp": 1e400})");
  ASSERT_TRUE(time.result);
  ASSERT_EQ(time.result.value().rejected.size(), 1u);
  EXPECT_THAT(time.result.value().rejected[0].error,
              HasSubstr("field \"timestamp\" holds the number 1e400, outside"));

  // Zero with an exponent over 308 is zero, but Boost.JSON (the processor's reader) takes it
  // for NaN: refused the same way. Beyond 308 below zero, and at 308, it reads as it should.
  // Nor can it read any exponent beyond ±(2^31 - 1).
  for (const char* zero : {R"({"a": 0e999})", R"({"a": -0.0E+309})", R"({"timestamp": 0e400})",
                           R"({"a": 1e-2147483648})", R"({"a": [0E-4023456789]})"}) {
    Parsed z;
    parse_into(z, zero);
    ASSERT_TRUE(z.result) << zero;
    ASSERT_EQ(z.result.value().rejected.size(), 1u) << zero;
    EXPECT_THAT(z.result.value().rejected[0].error, HasSubstr("outside a 64-bit float's range"));
  }
  Parsed fine;
  parse_into(fine, R"({"a": 0e308, "b": 0e-999, "c": 1e-400, "d": 1.7e308, "e": 1e-2147483647})");
  ASSERT_TRUE(fine.result);
  EXPECT_EQ(fine.result.value().accepted(), 1u);

  // An envelope field: its events would all carry it.
  Parsed envelope;
  parse_into(envelope, R"({"events":[{"id":"a"},{"id":"b"}], "app": {"v": 1e400}})");
  ASSERT_TRUE(envelope.result);
  ASSERT_EQ(envelope.result.value().rejected.size(), 1u);
  EXPECT_THAT(envelope.result.value().rejected[0].error,
              HasSubstr("field \"app\" holds the number 1e400"));
  EXPECT_EQ(events_of(envelope.result.value()).size(), 0u);

  // Not numbers at all: still malformed JSON, for the whole request.
  for (const char* bad : {R"({"a": -})", R"({"a": 1.})", R"({"a": 1e})"}) {
    auto result = parse(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_THAT(result.error().message, HasSubstr("invalid number")) << bad;
  }
}

TEST(Ingest, NdjsonWithOrWithoutItsContentType) {
  for (auto type : {"application/x-ndjson", "application/json", ""}) {
    Parsed p;
    parse_into(p, "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n{\"id\":\"c\"}", type);
    ASSERT_TRUE(p.result) << type << ": " << p.result.error().message;
    auto events = events_of(p.result.value());
    ASSERT_EQ(events.size(), 3u) << type;
    EXPECT_EQ(events[2].id, "c");
    EXPECT_EQ(events[1].payload, "{\"id\":\"b\"}");
  }
}

TEST(Ingest, MalformedJsonRejectsTheRequestWithTheByteOffset) {
  auto r = parse(R"({"a":1,})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidInput);
  EXPECT_THAT(r.error().message, HasSubstr("malformed JSON at byte 7"));

  for (const char* bad : {"{\"a\":\"unterminated}", "[{\"a\":1}", "[{\"a\":1}] x", "nope",
                          "{\"a\":01}", "{\"a\":\"\x01\"}", "[{\"a\":[1,]}]"}) {
    auto result = parse(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_THAT(result.error().message, HasSubstr("malformed JSON")) << bad;
  }
}

TEST(Ingest, NdjsonLinesThatAreNotObjects) {
  Parsed p;
  parse_into(p, "{\"a\":1}\n42\n\"text\"\n[1,{\"b\":null}]\n", "application/x-ndjson");
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.result.value().accepted(), 1u);
  ASSERT_EQ(p.result.value().rejected.size(), 3u);
  EXPECT_EQ(p.result.value().rejected[2].index, 3u);
  // A malformed line is rejected alone; the offset points at the bad token, counted from the
  // start of the body.
  for (auto [bad, offset] :
       std::vector<std::pair<std::string, int>>{{"{\"a\":1}\ntru\n", 8},
                                                {"{\"a\":1}\n[1,]\n", 11},
                                                {"{\"a\":1}\n\"open\n", 8},
                                                {"{\"a\":1}\n{\"b\":tru}\n", 13},
                                                // a value and more text: not one JSON value
                                                {"{\"a\":1}\n\"{x\"}\n", 12},
                                                {"{\"a\":1}\n[1] 2\n", 12},
                                                // an atom with more letters: not null or true
                                                {"{\"a\":1}\nnulle\n", 8},
                                                {"{\"a\":1}\ntruex\n", 8},
                                                {"{\"a\":1}\nfalsey\n", 8}}) {
    auto r = parse(bad, "application/x-ndjson");
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r.value().accepted(), 1u);
    ASSERT_EQ(r.value().rejected.size(), 1u);
    EXPECT_EQ(r.value().rejected[0].index, 1u);
    EXPECT_THAT(r.value().rejected[0].error,
                HasSubstr("malformed JSON at byte " + std::to_string(offset)))
        << bad;
    EXPECT_FALSE(r.value().rejected[0].event_is_json);
  }
}

TEST(Ingest, InvalidUtf8IsRejected) {
  auto r = parse("{\"a\":\"\xff\xfe\"}");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("UTF-8"));
  // In NDJSON the line alone.
  auto lines = parse("{\"a\":\"\xff\"}\n{\"a\":\"ok\"}\n", "application/x-ndjson");
  ASSERT_TRUE(lines);
  EXPECT_EQ(lines.value().accepted(), 1u);
  ASSERT_EQ(lines.value().rejected.size(), 1u);
  EXPECT_THAT(lines.value().rejected[0].error, HasSubstr("invalid UTF-8"));
}

TEST(Ingest, NestingDeeperThan64IsRejected) {
  // The event object is level 1.
  std::string deep = "{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}";
  EXPECT_TRUE(parse(deep));
  std::string deeper = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
  auto r = parse(deeper);
  ASSERT_TRUE(r);  // rejected alone: the server answers 400 when nothing was accepted
  EXPECT_EQ(r.value().accepted(), 0u);
  ASSERT_EQ(r.value().rejected.size(), 1u);
  EXPECT_THAT(r.value().rejected[0].error, HasSubstr("deeper than 64"));
  // 1000 levels inside an array: that element alone.
  std::string mixed = "[{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "},{\"b\":1}]";
  auto m = parse(mixed);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m.value().accepted(), 1u);
  ASSERT_EQ(m.value().rejected.size(), 1u);
  EXPECT_EQ(m.value().rejected[0].index, 0u);
}

TEST(Ingest, EnvelopeFieldLimitsAndTypes) {
  Parsed p;
  parse_into(p, "[{\"id\":\"" + std::string(257, 'x') + "\"}, {\"id\":{\"x\":1}}, {\"id\":\"\"}]");
  ASSERT_TRUE(p.result);
  auto& rejected = p.result.value().rejected;
  ASSERT_EQ(rejected.size(), 3u);
  EXPECT_EQ(rejected[0].error, "field \"id\" is 257 bytes long; the limit is 256");
  EXPECT_EQ(rejected[1].error, "field \"id\" must be a string or a number");
  EXPECT_EQ(rejected[2].error, "field \"id\" is empty");
  EXPECT_EQ(p.result.value().accepted(), 0u);
}

TEST(Ingest, EmptyBodiesAreErrors) {
  for (const char* empty : {"", "  \n", "[]"}) {
    auto r = parse(empty);
    ASSERT_FALSE(r) << empty;
    EXPECT_EQ(r.error().code, Errc::kInvalidInput);
  }
}

TEST(Ingest, ResponseJson) {
  EXPECT_EQ(ingest_response_json(2, {{1, "bad \"x\""}}),
            R"({"accepted":2,"rejected":[{"index":1,"error":"bad \"x\""}]})");
  EXPECT_EQ(ingest_response_json(0, {}), R"({"accepted":0,"rejected":[]})");
}

TEST(Ingest, EventsGoToThePartitionOfTheirKey) {
  StreamConfig stream = kStream;
  stream.partitions = 4;
  std::string body;
  for (int i = 0; i < 200; ++i) {
    body += "{\"user\":\"u" + std::to_string(i % 10) + "\",\"n\":" + std::to_string(i) + "}\n";
  }
  auto result = ingest(body, "application/x-ndjson", stream);
  ASSERT_TRUE(result);
  auto& batch = result.value();
  ASSERT_EQ(batch.partitions.size(), 4u);
  EXPECT_EQ(batch.accepted(), 200u);
  std::map<std::string, std::set<std::uint32_t>> partitions_of_key;
  for (std::uint32_t p = 0; p < 4; ++p) {
    EXPECT_GT(batch.partitions[p].count(), 0u) << "10 keys should spread over 4 partitions";
    IngestBatch one;
    one.partitions.push_back(std::move(batch.partitions[p]));
    for (const auto& event : events_of(one)) {
      partitions_of_key[std::string(*event.key)].insert(p);
      EXPECT_EQ(log::partition_for(*event.key, 4), p);
    }
  }
  EXPECT_EQ(partitions_of_key.size(), 10u);
  for (const auto& [key, partitions] : partitions_of_key)
    EXPECT_EQ(partitions.size(), 1u) << key;
}

TEST(Ingest, BatchEnvelopesAddTheirFieldsToEveryEvent) {
  for (const char* field : {"events", "batch"}) {
    Parsed p;
    parse_into(p, std::string(R"({"app":"shop","v":[1,2],")") + field +
                      R"(":[{"id":"a","type":"view"},{"id":"b","app":"own"},3]})");
    ASSERT_TRUE(p.result) << p.result.error().message;
    auto& batch = p.result.value();
    ASSERT_EQ(batch.rejected.size(), 1u);
    EXPECT_EQ(batch.rejected[0].index, 2u);
    auto events = events_of(batch);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].payload, R"({"id":"a","type":"view","app":"shop","v":[1,2]})");
    EXPECT_EQ(events[0].type, std::optional<std::string_view>("view"));
    EXPECT_EQ(events[1].payload, R"({"id":"b","app":"own","v":[1,2]})");  // the event's own wins
  }
  // Fields after the array count too; an object whose "events" is not an array is an event.
  Parsed after;
  parse_into(after, R"({"events":[{"id":"x"}],"app":"late"})");
  ASSERT_TRUE(after.result);
  EXPECT_EQ(events_of(after.result.value())[0].payload, R"({"id":"x","app":"late"})");
  Parsed plain;
  parse_into(plain, R"({"id":"y","events":3})");
  ASSERT_TRUE(plain.result);
  EXPECT_EQ(events_of(plain.result.value())[0].payload, R"({"id":"y","events":3})");
  // A malformed envelope is a malformed request.
  EXPECT_FALSE(parse(R"({"app":"x","events":[{"id":"a"},]})"));
}

TEST(Ingest, ContentTypes) {
  EXPECT_EQ(body_kind("application/json; charset=utf-8", "{}").value(), BodyKind::kJson);
  EXPECT_EQ(body_kind("text/plain;charset=UTF-8", "{}").value(), BodyKind::kJson);  // sendBeacon
  EXPECT_EQ(body_kind("application/vnd.api+json", "{}").value(), BodyKind::kJson);
  EXPECT_EQ(body_kind("", "{}").value(), BodyKind::kJson);
  EXPECT_EQ(body_kind("application/x-ndjson", "{}").value(), BodyKind::kNdjson);
  EXPECT_EQ(body_kind("application/x-www-form-urlencoded", "a=1").value(), BodyKind::kForm);
  // What `curl -d '{...}'` sends.
  EXPECT_EQ(body_kind("application/x-www-form-urlencoded", " {\"a\":1}").value(), BodyKind::kJson);
  auto xml = body_kind("application/xml", "<a/>");
  ASSERT_FALSE(xml);
  EXPECT_EQ(xml.error().code, Errc::kUnsupported);
  EXPECT_THAT(xml.error().message, HasSubstr("\"application/xml\" is not accepted"));
  EXPECT_FALSE(body_kind("multipart/form-data; boundary=x", "--x"));
}

StreamConfig contact_form() {
  StreamConfig stream{.name = "contact", .id_field = "", .time_field = "", .type_field = ""};
  stream.schema = R"({"type":"object","required":["email","message"],
    "properties":{"email":{"type":"string","format":"email"},"age":{"type":"integer","minimum":18},
      "score":{"type":"number"},"message":{"type":"string","minLength":1},"tags":{"type":"array"},"news":{"type":"boolean"}}})";
  stream.sanitize.lowercase_fields = {"email"};
  stream.sanitize.max_length = 20;
  return stream;
}

TEST(Ingest, FormsAreCleanedTypedAndValidated) {
  const StreamConfig stream = contact_form();
  std::string body =
      "email=+Ann%40Example.COM+&message=Hello%0A%0A++world%01&age=42&tags=a&news=on&empty=";
  auto r = ingest(body, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r.value().accepted(), 1u) << r.value().rejected[0].error;
  auto events = events_of(r.value());
  EXPECT_EQ(
      events[0].payload,
      R"({"email":"ann@example.com","message":"Hello world","age":42,"tags":["a"],"news":true})");

  std::string young = "email=a%40b.co&message=hi&age=12";
  auto y = ingest(young, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(y);
  ASSERT_EQ(y.value().rejected.size(), 1u);
  EXPECT_EQ(y.value().rejected[0].error,
            "field \"age\": expected number greater than or equal to 18");
  EXPECT_EQ(y.value().rejected[0].event, young);
  EXPECT_FALSE(y.value().rejected[0].event_is_json);

  std::string missing = "email=a%40b.co&message=+++";  // only spaces: as if left empty
  auto m = ingest(missing, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(m);
  ASSERT_EQ(m.value().rejected.size(), 1u);
  EXPECT_THAT(m.value().rejected[0].error, HasSubstr("missing required property 'message'"));

  std::string bad_email = "email=not-an-email&message=x";
  auto b = ingest(bad_email, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(b);
  ASSERT_EQ(b.value().rejected.size(), 1u);
  EXPECT_EQ(b.value().rejected[0].error, "field \"email\": is not a valid email address");

  std::string long_text = "email=a%40b.co&message=" + std::string(21, 'x');
  auto l = ingest(long_text, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(l);
  ASSERT_EQ(l.value().rejected.size(), 1u);
  EXPECT_EQ(l.value().rejected[0].error,
            "field \"message\" is 21 characters long; the limit is 20 "
            "(streams.contact.sanitize.max_length)");

  std::string bad_utf8 = "email=a%40b.co&message=%FF";
  auto u = ingest(bad_utf8, "application/x-www-form-urlencoded", stream, true);
  ASSERT_FALSE(u);
  EXPECT_THAT(u.error().message, HasSubstr("\"message\" is not valid UTF-8"));

  // "inf" and "nan" read as numbers would be written as Infinity and NaN, which are not JSON:
  // they stay text, and the schema refuses them.
  for (std::string infinite :
       {"email=a%40b.co&message=hi&score=inf", "email=a%40b.co&message=hi&score=nan"}) {
    auto i = ingest(infinite, "application/x-www-form-urlencoded", stream, true);
    ASSERT_TRUE(i);
    ASSERT_EQ(i.value().rejected.size(), 1u) << infinite;
    EXPECT_THAT(i.value().rejected[0].error,
                HasSubstr("field \"score\": expected number, got string"));
  }
  std::string finite = "email=a%40b.co&message=hi&score=2.5";
  auto f = ingest(finite, "application/x-www-form-urlencoded", stream, true);
  ASSERT_TRUE(f);
  ASSERT_EQ(f.value().accepted(), 1u);
  EXPECT_THAT(events_of(f.value())[0].payload, HasSubstr("\"score\":2.5"));

  std::string bad_escape = "email=%zz";
  EXPECT_FALSE(ingest(bad_escape, "application/x-www-form-urlencoded", stream, true));

  // The same form as JSON.
  std::string json = R"({"email":" B@C.io ","message":"  two   spaces "})";
  auto j = ingest(json, "application/json", stream, true);
  ASSERT_TRUE(j);
  ASSERT_EQ(j.value().accepted(), 1u);
  EXPECT_EQ(events_of(j.value())[0].payload, R"({"email":"b@c.io","message":"two spaces"})");
}

TEST(Ingest, SchemaRejectsEventsAloneInABatch) {
  StreamConfig stream = kStream;
  stream.schema =
      R"({"type":"object","required":["type"],"properties":{"value":{"type":"number","maximum":100}}})";
  std::string body = R"([{"type":"t","value":5},{"value":500,"type":"t"},{"value":1}])";
  auto r = ingest(body, "application/json", stream);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().accepted(), 1u);
  ASSERT_EQ(r.value().rejected.size(), 2u);
  EXPECT_EQ(r.value().rejected[0].error,
            "field \"value\": expected number less than or equal to 100");
  EXPECT_EQ(r.value().rejected[0].event, R"({"value":500,"type":"t"})");
  EXPECT_TRUE(r.value().rejected[0].event_is_json);
  EXPECT_EQ(r.value().rejected[1].error, "the event: missing required property 'type'");
  // Accepted events keep their bytes when nothing had to change.
  EXPECT_EQ(events_of(r.value())[0].payload, R"({"type":"t","value":5})");
}

TEST(Ingest, PrivacyRulesApplyBeforeStoring) {
  StreamConfig stream = kStream;
  stream.privacy.ip_field = "ip";
  stream.privacy.anonymize_ip = true;
  stream.privacy.hash_fields = {"user"};
  stream.privacy.drop_fields = {"password"};
  stream.privacy.hash_key = "secret";
  std::string body = "{\"user\":\"u1\",\"password\":\"p\"}\n{\"ip\":\"2001:db8:1:2:3:4:5:6\"}";
  auto r = ingest(body, "application/x-ndjson", stream, false, "203.0.113.77");
  ASSERT_TRUE(r);
  auto events = events_of(r.value());
  ASSERT_EQ(events.size(), 2u);
  std::set<std::string> payloads;
  for (const auto& e : events)
    payloads.emplace(e.payload);
  const std::string hashed = hmac_sha256_hex("secret", "u1");
  EXPECT_EQ(hashed.size(), 64u);
  EXPECT_TRUE(payloads.contains("{\"user\":\"" + hashed + "\",\"ip\":\"203.0.113.0\"}"))
      << *payloads.begin();
  EXPECT_TRUE(payloads.contains(R"({"ip":"2001:db8:1::"})"));
  // The partition key is read after hashing: the raw user id is nowhere in the record.
  for (const auto& e : events) {
    if (e.key) {
      EXPECT_EQ(*e.key, hashed);
    }
  }
}

// A rejected event goes to the dead letters, which GET /v1/dead-letters serves: the privacy
// rules apply to it as to a stored one (the dropped field was kept in clear before).
TEST(Ingest, PrivacyRulesApplyToRejectedEventsToo) {
  StreamConfig stream = kStream;
  stream.privacy.hash_fields = {"user"};
  stream.privacy.drop_fields = {"password"};
  stream.privacy.hash_key = "secret";
  stream.schema = R"({"properties":{"age":{"type":"integer"}}})";
  std::string body =
      "{\"user\":\"u1\",\"password\":\"p\",\"age\":\"x\"}\n"  // fails the schema
      "{\"id\":\"\",\"user\":\"u2\",\"password\":\"p2\"}\n"   // an empty id
      "{\"password\":\"p3\" nope}\n"                          // malformed
      "{\"user\":\"ok\"}";
  auto r = ingest(body, "application/x-ndjson", stream);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r.value().accepted(), 1u);
  const auto& rejected = r.value().rejected;
  ASSERT_EQ(rejected.size(), 3u);
  const std::string hashed = hmac_sha256_hex("secret", "u1");
  EXPECT_EQ(rejected[0].event, R"({"user":")" + hashed + R"(","age":"x"})");
  EXPECT_TRUE(rejected[0].event_is_json);
  EXPECT_EQ(rejected[1].event, R"({"id":"","user":")" + hmac_sha256_hex("secret", "u2") + "\"}");
  EXPECT_EQ(rejected[2].event, "(withheld: not a JSON object, and streams.events.privacy applies)");
  for (const auto& rejection : rejected) {
    EXPECT_EQ(rejection.event.find("\"p"), std::string::npos) << rejection.event;
    EXPECT_EQ(rejection.event.find("u1"), std::string::npos) << rejection.event;
  }
}

TEST(Ingest, DeadLetterRecordsCarryTheReasonAndTheEvent) {
  StreamConfig dead{
      .name = "dead_letters", .id_field = "", .time_field = "", .type_field = "stream"};
  std::vector<Rejection> rejected{{0, "bad \"time\"", R"({"a":1})", true},
                                  {3, "malformed", "{\"a\":\xff", false}};
  auto batches = dead_letter_batches(rejected, "web", dead, kNow);
  IngestBatch batch;
  batch.partitions = std::move(batches);
  auto events = events_of(batch);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, std::optional<std::string_view>("web"));
  EXPECT_EQ(
      events[0].payload,
      R"({"stream":"web","index":0,"error":"bad \"time\"","received_at":"2025-10-13T11:30:00.000Z","event":{"a":1}})");
  EXPECT_EQ(events[1].payload,
            "{\"stream\":\"web\",\"index\":3,\"error\":\"malformed\",\"received_at\":"
            "\"2025-10-13T11:30:00.000Z\",\"raw\":\"{\\\"a\\\":\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace sluice::collector
