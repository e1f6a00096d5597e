#include "sources/http/ingest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/bytes.h"
#include "log/log_format.h"

namespace sluice::http {
namespace {

using ::testing::HasSubstr;

const StreamConfig kStream{.name = "events",
                           .id_field = "id",
                           .key_field = "user",
                           .time_field = "timestamp",
                           .type_field = "type"};
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

Result<IngestBatch> parse(std::string body, std::string_view type = "application/json") {
  // The body must outlive the views into it; keep it in a static per call site is not possible,
  // so tests use parse_into below when they inspect events.
  return parse_events(body, type, kStream, kNow);
}

struct Parsed {
  std::string body;
  Result<IngestBatch> result = make_error(Errc::kInternal, "unset");
};

void parse_into(Parsed& p, std::string body, std::string_view type = "application/json") {
  p.body = std::move(body);
  p.result = parse_events(p.body, type, kStream, kNow);
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

  auto second_line = parse("{\"a\":1}\n{\"b\":tru}\n", "application/x-ndjson");
  ASSERT_FALSE(second_line);
  EXPECT_THAT(second_line.error().message, HasSubstr("malformed JSON at byte 13"));

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
  // The offset points at the bad token, counted from the start of the body.
  for (auto [bad, offset] : std::vector<std::pair<std::string, int>>{
           {"{\"a\":1}\ntru\n", 8}, {"{\"a\":1}\n[1,]\n", 11}, {"{\"a\":1}\n\"open\n", 8}}) {
    auto r = parse(bad, "application/x-ndjson");
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message, HasSubstr("malformed JSON at byte " + std::to_string(offset)))
        << bad;
  }
}

TEST(Ingest, InvalidUtf8IsRejected) {
  auto r = parse("{\"a\":\"\xff\xfe\"}");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("UTF-8"));
}

TEST(Ingest, NestingDeeperThan64IsRejected) {
  // The event object is level 1.
  std::string deep = "{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}";
  EXPECT_TRUE(parse(deep));
  std::string deeper = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
  auto r = parse(deeper);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("deeper than 64"));
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
  auto result = parse_events(body, "application/x-ndjson", stream, kNow);
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

}  // namespace
}  // namespace sluice::http
