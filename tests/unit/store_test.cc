#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "log/embedded/embedded_log.h"
#include "query/events_query.h"
#include "query/store_reader.h"
#include "store/sqlite_store.h"
#include "test_util.h"

namespace sluice {
namespace {

using sluice::testing::append_sync;
using sluice::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

struct Fixture {
  TempDir dir;
  log::EmbeddedLog log{
      dir.str() + "/log", {"s1", "s2"}, LogConfig{.group_commit_max_bytes = 1 << 20}};
  std::string db_path = dir.str() + "/sluice.db";
  sqlite::SqliteStore sink{db_path};

  // Appends events (id, type, ts) to `stream` and stores everything new in the sink.
  void add(const std::string& stream,
           const std::vector<std::tuple<std::string, std::string, std::int64_t>>& events) {
    std::vector<std::pair<std::string, std::string>> with_payloads;
    with_payloads.reserve(events.size());
    for (const auto& [id, type, ts] : events)
      with_payloads.emplace_back(id, "{\"id\":\"" + id + "\"}");
    add_payloads(stream, with_payloads, [&](std::size_t i) {
      return std::make_pair(std::get<1>(events[i]), std::get<2>(events[i]));
    });
  }

  // Appends (id, payload) events, key "k" unless the payload says otherwise, and stores them.
  void add_payloads(
      const std::string& stream, const std::vector<std::pair<std::string, std::string>>& events,
      const std::function<std::pair<std::string, std::int64_t>(std::size_t)>& type_and_ts =
          [](std::size_t i) { return std::make_pair(std::string("t"), std::int64_t(i)); },
      const std::vector<std::string>& keys = {}) {
    log::RecordBatch batch;
    std::vector<std::string> types;
    types.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto [type, ts] = type_and_ts(i);
      types.push_back(type);
      batch.add(EventView{.id = events[i].first,
                          .ts_ms = ts,
                          .received_at_ms = ts + 5,
                          .key = keys.empty() ? std::string_view("k") : std::string_view(keys[i]),
                          .type = types.back(),
                          .payload = events[i].second});
    }
    ASSERT_TRUE(append_sync(log, stream, std::move(batch)));
    auto offsets = sink.committed_offsets("store").value();
    auto read = log.read(stream, offsets[stream], 100000);
    ASSERT_TRUE(read);
    ASSERT_TRUE(sink.write("store", stream, read.value()));
  }
};

// Minimal reader for the JSON this module writes: ids in order and the next cursor.
struct Page {
  std::vector<std::string> ids;
  std::string cursor;
};

Page parse_page(const std::string& body) {
  Page page;
  std::size_t pos = 0;
  while ((pos = body.find("{\"id\":\"", pos)) != std::string::npos) {
    pos += 7;
    page.ids.push_back(body.substr(pos, body.find('"', pos) - pos));
    pos = body.find("\"payload\"", pos);  // skip the payload's own "id"
    pos = body.find('}', pos);
  }
  auto c = body.find("\"next_cursor\":\"");
  if (c != std::string::npos) {
    c += 15;
    page.cursor = body.substr(c, body.find('"', c) - c);
  }
  return page;
}

TEST(SqliteStore, StoresEventsAndOffsetsTogetherAndIgnoresRepeatedIds) {
  Fixture f;
  f.add("s1", {{"a", "x", 1}, {"b", "x", 2}});
  f.add("s1", {{"b", "x", 3}, {"c", "y", 4}});  // "b" again: a client retry
  f.add("s2", {{"a", "x", 5}});                 // same id in another stream is another event
  auto offsets = f.sink.committed_offsets("store").value();
  EXPECT_EQ(offsets["s1"], 4u);
  EXPECT_EQ(offsets["s2"], 1u);
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 1);
  auto& reader = *reader_ptr;
  auto body = query::query_events(reader, {{"stream", "s1"}, {"order", "asc"}});
  ASSERT_TRUE(body);
  EXPECT_EQ(parse_page(body.value()).ids, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THAT(body.value(), HasSubstr(R"("ts":"1970-01-01T00:00:00.002Z")"));  // first "b" kept
  EXPECT_THAT(body.value(), HasSubstr(R"("key":"k","payload":{"id":"a"}})"));
}

TEST(EventsQuery, FiltersAndOrders) {
  Fixture f;
  f.add("s1", {{"a", "click", 10}, {"b", "view", 20}, {"c", "click", 30}});
  f.add("s2", {{"d", "click", 15}});
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 2);
  auto& reader = *reader_ptr;
  auto ids = [&](query::Params p) {
    return parse_page(query::query_events(reader, p).value()).ids;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{"c", "b", "d", "a"}));  // newest first
  EXPECT_EQ(ids({{"order", "asc"}}), (V{"a", "d", "b", "c"}));
  EXPECT_EQ(ids({{"stream", "s1"}}), (V{"c", "b", "a"}));
  EXPECT_EQ(ids({{"type", "click"}}), (V{"c", "d", "a"}));
  EXPECT_EQ(ids({{"stream", "s1"}, {"type", "click"}}), (V{"c", "a"}));
  EXPECT_EQ(ids({{"from", "1970-01-01T00:00:00.015Z"}, {"to", "1970-01-01T00:00:00.030Z"}}),
            (V{"b", "d"}));
  EXPECT_EQ(ids({{"from", "1970-01-01T00:00:00.020Z"}}), (V{"c", "b"}));
  EXPECT_EQ(ids({{"stream", "nope"}}), V{});
}

TEST(EventsQuery, KeysetPagesReturnEveryEventOnce) {
  Fixture f;
  std::vector<std::tuple<std::string, std::string, std::int64_t>> events;
  for (int i = 0; i < 250; ++i)
    events.emplace_back("e" + std::to_string(i), "t", i % 17);
  f.add("s1", events);
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 1);
  auto& reader = *reader_ptr;
  for (const char* order : {"asc", "desc"}) {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      query::Params p{{"limit", "40"}, {"order", order}};
      if (!cursor.empty()) p.emplace_back("cursor", cursor);
      auto body = query::query_events(reader, p);
      ASSERT_TRUE(body) << body.error().message;
      auto page = parse_page(body.value());
      seen.insert(seen.end(), page.ids.begin(), page.ids.end());
      cursor = page.cursor;
      ++pages;
    } while (!cursor.empty());
    EXPECT_EQ(pages, 7) << order;
    EXPECT_EQ(seen.size(), 250u) << order;
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 250u) << order;
  }
}

TEST(EventsQuery, WhereConditionsOnPayloadFieldsAndKeys) {
  Fixture f;
  f.add_payloads("s1",
                 {{"a", R"({"severity":"high","value":93,"geo":{"city":"NYC"},"ok":true})"},
                  {"b", R"({"severity":"low","value":12.5,"geo":{"city":"LA"},"ok":false})"},
                  {"c", R"({"severity":"high","value":"90","geo":{"city":"LA"}})"},
                  {"d", R"({"severity":"x' OR '1'='1","value":100})"}},
                 [](std::size_t i) { return std::make_pair(std::string("t"), std::int64_t(i)); },
                 {"NYC", "LA", "LA", "SF"});
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 1);
  auto& reader = *reader_ptr;
  auto ids = [&](query::Params p) {
    p.emplace_back("order", "asc");
    auto body = query::query_events(reader, p);
    EXPECT_TRUE(body) << body.error().message;
    return body ? parse_page(body.value()).ids : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({{"where", "severity:eq:high"}}), (V{"a", "c"}));
  EXPECT_EQ(ids({{"where", "severity:ne:high"}}), (V{"b", "d"}));
  EXPECT_EQ(ids({{"where", "value:gt:90"}}), (V{"a", "d"}));  // "90" is text, not a number
  EXPECT_EQ(ids({{"where", "value:lte:12.5"}}), (V{"b"}));
  EXPECT_EQ(ids({{"where", "geo.city:eq:LA"}}), (V{"b", "c"}));
  EXPECT_EQ(ids({{"where", "geo.city:eq:LA"}, {"where", "severity:eq:high"}}), (V{"c"}));
  EXPECT_EQ(ids({{"where", "ok:eq:true"}}), (V{"a"}));
  EXPECT_EQ(ids({{"where", "ok:eq:null"}}), (V{"c", "d"}));
  EXPECT_EQ(ids({{"where", "severity:eq:x' OR '1'='1"}}), (V{"d"}));  // a value, bound
  EXPECT_EQ(ids({{"key", "LA"}}), (V{"b", "c"}));
  EXPECT_EQ(ids({{"key", "LA"}, {"where", "value:gte:10"}}), (V{"b"}));

  auto error = [&](const std::string& where) {
    auto r = query::query_events(reader, {{"where", where}});
    EXPECT_FALSE(r) << where;
    return r ? std::string() : r.error().message;
  };
  EXPECT_THAT(error("severity"), HasSubstr("field:op:value"));
  EXPECT_THAT(error("severity:like:h%"), HasSubstr("eq, ne, gt, gte, lt or lte"));
  EXPECT_THAT(error("a') OR 1=1 --:eq:x"), HasSubstr("is not a field name"));
  EXPECT_THAT(error("$.a:eq:x"), HasSubstr("is not a field name"));
  EXPECT_THAT(error("value:gt:null"), HasSubstr("eq or ne only"));
  query::Params nine;
  for (int i = 0; i < 9; ++i)
    nine.emplace_back("where", "value:gt:1");
  auto r = query::query_events(reader, nine);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("at most 8"));
}

// No request may hold a read connection for long: a query past store.query_timeout is stopped.
TEST(StoreReader, AQueryPastTheTimeoutIsStopped) {
  Fixture f;
  f.add("s1", {{"a", "t", 1}});
  auto reader = query::open_sqlite_reader(f.db_path, 1, std::chrono::milliseconds(50));
  query::Sql slow = reader->sql();
  slow +=
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
      "SELECT count(*) FROM c";
  const auto started = std::chrono::steady_clock::now();
  auto stopped = reader->query(slow, [](const query::Row&) { return true; });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, Errc::kUnavailable);
  EXPECT_THAT(stopped.error().message, HasSubstr("store.query_timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  // The connection serves the next query, and many distinct query texts (each cached) too.
  for (int i = 0; i < 200; ++i) {
    query::Sql quick = reader->sql();
    quick += fmt::format("SELECT count(*) + {} FROM events", i);
    std::int64_t count = -1;
    ASSERT_TRUE(reader->query(quick, [&](const query::Row& row) {
      count = row.integer(0);
      return false;
    }));
    EXPECT_EQ(count, 1 + i);
  }
}

TEST(EventsQuery, OneEventByIdAndFieldProjection) {
  const std::vector<std::string> kStreams{"s1", "s2"};
  Fixture f;
  f.add_payloads("s1", {{"a/1", R"({"city":"NYC","geo":{"lat":40.7,"lon":-74},"n":1})"},
                        {"b", R"({"city":"LA"})"}});
  f.add_payloads("s2", {{"b", R"({"city":"SF"})"}});
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 1);
  auto& reader = *reader_ptr;
  auto one = query::query_event(reader, "a/1", {{"fields", "city,geo.lat,missing"}}, kStreams);
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_THAT(one.value(), HasSubstr(R"("id":"a/1","stream":"s1")"));
  EXPECT_THAT(one.value(), HasSubstr(R"("payload":{"city":"NYC","geo.lat":40.7}})"));
  auto first = query::query_event(reader, "b", {}, kStreams);
  ASSERT_TRUE(first);
  EXPECT_THAT(first.value(), HasSubstr(R"("payload":{"city":"LA"})"));  // first stored
  auto in_s2 = query::query_event(reader, "b", {{"stream", "s2"}}, kStreams);
  ASSERT_TRUE(in_s2);
  EXPECT_THAT(in_s2.value(), HasSubstr(R"("payload":{"city":"SF"})"));
  auto missing = query::query_event(reader, "zzz", {}, kStreams);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_FALSE(query::query_event(reader, "b", {{"fields", "a..b"}}, kStreams));
  EXPECT_FALSE(query::query_event(reader, "b", {{"limit", "1"}}, kStreams));
  // Without `stream`, only the streams given are looked in (each through its index).
  EXPECT_FALSE(query::query_event(reader, "a/1", {}, {"s2"}));

  auto page = query::query_events(reader, {{"fields", "city"}, {"stream", "s1"}});
  ASSERT_TRUE(page);
  EXPECT_THAT(page.value(), HasSubstr(R"("payload":{"city":"NYC"})"));
  EXPECT_THAT(page.value(), Not(HasSubstr("geo")));
}

TEST(EventsQuery, RejectsBadParameters) {
  Fixture f;
  auto reader_ptr = query::open_sqlite_reader(f.db_path, 1);
  auto& reader = *reader_ptr;
  auto error = [&](query::Params p) {
    auto r = query::query_events(reader, p);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message;
  };
  EXPECT_THAT(error({{"limit", "1001"}}), HasSubstr("from 1 to 1000"));
  EXPECT_THAT(error({{"limit", "x"}}), HasSubstr("\"limit\""));
  EXPECT_THAT(error({{"from", "yesterday"}}), HasSubstr("\"from\""));
  EXPECT_THAT(error({{"order", "up"}}), HasSubstr("asc or desc"));
  EXPECT_THAT(error({{"cursor", "zz"}}), HasSubstr("cursor"));
  EXPECT_THAT(error({{"stream'; DROP TABLE events; --", "x"}}), HasSubstr("unknown parameter"));
  // Values are bound, never spliced into SQL.
  auto r = query::query_events(reader, {{"stream", "x' OR '1'='1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), R"({"events":[],"next_cursor":null})");
}

}  // namespace
}  // namespace sluice
