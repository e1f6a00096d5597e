// Query latency over a large store: GET /v1/events pages (first and deep, with and without
// filters) and GET /v1/stats questions, p50 and p99, through the same functions the HTTP
// routes call (the HTTP layer adds a fraction of a millisecond).
//
// The store is built the way `sluice run` builds it: events appended to the embedded log, then
// the processor (src/processor/) takes them into the store with its rollups: SQLite, or
// PostgreSQL when a URL is given (schema `sluice`); the build rate is printed too. A store
// built earlier with the same event count is reused (DIR remembers it).
//
// usage: bench_query DIR [EVENTS [POSTGRES_URL]]   (default 10 000 000, SQLite)

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/time.h"
#include "log/embedded/embedded_log.h"
#include "processor/processor.h"
#include "query/events_query.h"
#include "query/stats_query.h"
#include "query/store_reader.h"
#include "store/pg_connection.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kPartitions = 4;
constexpr std::int64_t kBase = 1760313600000;  // 2025-10-13T00:00:00Z
constexpr std::int64_t kSpacingMs = 60;        // 10 M events cover a week

std::int64_t ts_of(std::int64_t i) {
  return kBase + i * kSpacingMs;
}

// The store in DIR or at the PostgreSQL URL, with the stats fields the questions use.
std::unique_ptr<sluice::store::StoreWriter> open_writer(const std::string& dir,
                                                        const std::string& url) {
  std::map<std::string, std::vector<std::string>> fields = {{"events", {"city", "severity"}}};
  if (url.empty()) return std::make_unique<sluice::sqlite::SqliteStore>(dir + "/sluice.db", fields);
  return std::make_unique<sluice::store::PostgresStore>(url, "sluice", fields);
}

void build(const std::string& dir, std::int64_t events, const std::string& url) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sluice::LogConfig log_config;
  sluice::log::EmbeddedLog log(dir + "/log", {{"events", kPartitions}}, log_config);
  const auto fill_start = Clock::now();
  const char* severities[] = {"low", "medium", "high", "critical"};
  const std::string_view types[] = {"t0", "t1", "t2", "t3", "t4"};
  std::vector<std::string> ids, payloads;
  for (std::int64_t start = 0; start < events; start += 4000) {
    std::vector<sluice::log::RecordBatch> batches(kPartitions);
    ids.clear();
    payloads.clear();
    const std::int64_t end = std::min(events, start + 4000);
    ids.reserve(static_cast<std::size_t>(end - start));
    payloads.reserve(static_cast<std::size_t>(end - start));
    for (std::int64_t i = start; i < end; ++i) {
      const std::int64_t ts = ts_of(i);
      ids.push_back(fmt::format("0199dd55-9f3b-7a1c-8d2e-{:012}", i));
      payloads.push_back(fmt::format(
          R"({{"city":"C{}","event_type":"t{}","severity":"{}","description":"incident {} reported near the station","timestamp":"{}"}})",
          i % 20, i % 5, severities[(i / 7) % 4], i, sluice::format_iso8601_ms(ts)));
      batches[static_cast<std::size_t>(i % kPartitions)].add(
          sluice::EventView{.id = ids.back(),
                            .ts_ms = ts,
                            .received_at_ms = ts + 200 + (i % 1000) * 3,  // lags from 0.2 to 3.2 s
                            .key = std::nullopt,
                            .type = types[i % 5],
                            .payload = payloads.back()});
    }
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      std::promise<sluice::Result<sluice::log::Offset>> done;
      auto future = done.get_future();
      log.append(sluice::log::Partition("events", p), std::move(batches[p]),
                 [&done](sluice::Result<sluice::log::Offset> r) { done.set_value(std::move(r)); });
      if (!future.get()) throw std::runtime_error("log append failed");
    }
  }
  const double fill_s = std::chrono::duration<double>(Clock::now() - fill_start).count();
  sluice::StoreConfig store;
  store.batch_max_events = 5000;
  store.batch_max_wait = std::chrono::milliseconds(0);
  const auto store_start = Clock::now();
  {
    if (!url.empty()) {  // a fresh schema
      sluice::pg::Connection connection(url, "sluice");
      if (!connection.connect() ||
          !connection.exec("DROP SCHEMA IF EXISTS sluice CASCADE", "drop")) {
        throw std::runtime_error("cannot reach PostgreSQL at " + url);
      }
    }
    sluice::Processor processor(log, store, open_writer(dir, url));
    processor.start();
    for (;;) {
      std::int64_t stored = 0;
      for (const auto& [partition, offset] : processor.positions())
        stored += static_cast<std::int64_t>(offset);
      if (stored >= events) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const double store_s = std::chrono::duration<double>(Clock::now() - store_start).count();
  fmt::print(
      "built: {} events, log filled in {:.1f} s, stored with rollups in {:.1f} s ({:.0f} "
      "events/s)\n",
      events, fill_s, store_s, static_cast<double>(events) / store_s);
  std::ofstream(dir + "/built") << events;
}

struct Figures {
  double p50_ms, p99_ms;
};

Figures time_query(sluice::query::StoreReader& reader, const sluice::query::Params& params,
                   bool stats, int runs) {
  const std::map<std::string, std::vector<std::string>> fields = {{"events", {"city", "severity"}}};
  std::vector<double> ms;
  for (int i = 0; i < runs + 5; ++i) {
    const auto start = Clock::now();
    auto body = stats ? sluice::query::query_stats(reader, fields, params)
                      : sluice::query::query_events(reader, params);
    const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!body) throw std::runtime_error(body.error().message);
    if (i >= 5) ms.push_back(elapsed);  // the first runs warm the cache and the statements
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

// The cursor of the page that starts `depth` events from the newest.
std::string cursor_at(sluice::query::StoreReader& reader, std::int64_t events, std::int64_t depth,
                      const std::string& extra) {
  sluice::query::Params params = {{"limit", "1"}, {"to", std::to_string(ts_of(events - depth))}};
  if (!extra.empty())
    params.emplace_back(extra.substr(0, extra.find('=')), extra.substr(extra.find('=') + 1));
  auto body = sluice::query::query_events(reader, params);
  if (!body) throw std::runtime_error(body.error().message);
  const auto at = body.value().find("\"next_cursor\":\"");
  if (at == std::string::npos) throw std::runtime_error("no cursor at that depth");
  const auto start = at + 15;
  return body.value().substr(start, body.value().find('"', start) - start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_query DIR [EVENTS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::int64_t events = argc > 2 ? std::stoll(argv[2]) : 10'000'000;
  const std::string url = argc > 3 ? argv[3] : "";
  std::int64_t built = 0;
  std::ifstream(dir + "/built") >> built;
  if (built != events) {
    build(dir, events, url);
  } else {
    fmt::print("reusing the store of {} events in {}\n", events, dir);
  }
  auto reader_ptr = url.empty() ? sluice::query::open_sqlite_reader(dir + "/sluice.db", 2)
                                : sluice::query::open_postgres_reader(url, "sluice", 2);
  auto& reader = *reader_ptr;
  const int runs = 200;
  const auto mid = cursor_at(reader, events, events / 2, "");
  const auto mid_city = cursor_at(reader, events, events / 2, "where=city:eq:C7");
  const auto day = [](int d, int minutes) {
    return sluice::format_iso8601_ms(kBase + (d * 1440 + minutes) * 60000LL);
  };
  struct Case {
    const char* name;
    sluice::query::Params params;
    bool stats;
  };
  const std::vector<Case> cases = {
      {"events: first page of 100", {{"limit", "100"}}, false},
      {"events: first page, type=t3", {{"type", "t3"}, {"limit", "100"}}, false},
      {"events: first page, where=city:eq:C7", {{"where", "city:eq:C7"}, {"limit", "100"}}, false},
      {"events: page at depth N/2", {{"limit", "100"}, {"cursor", mid}}, false},
      {"events: page at depth N/2, where=city:eq:C7",
       {{"where", "city:eq:C7"}, {"limit", "100"}, {"cursor", mid_city}},
       false},
      {"stats: by city and severity, all",
       {{"stream", "events"}, {"group_by", "city,severity"}},
       true},
      {"stats: top 5 cities with critical events",
       {{"stream", "events"},
        {"group_by", "city"},
        {"where", "severity:eq:critical"},
        {"top", "5"}},
       true},
      {"stats: hourly pattern (hour_of_day)",
       {{"stream", "events"}, {"bucket", "hour_of_day"}},
       true},
      {"stats: by type per hour, 3 days inside hours",
       {{"stream", "events"},
        {"group_by", "type"},
        {"bucket", "hour"},
        {"from", day(1, 617)},
        {"to", day(4, 223)}},
       true},
      {"stats: processing lag p50/p95/p99 per day",
       {{"stream", "events"}, {"metric", "lag"}, {"bucket", "day"}},
       true},
  };
  fmt::print("{:<50} {:>9} {:>9}   target\n", "query (" + std::to_string(events) + " events)",
             "p50 ms", "p99 ms");
  for (const auto& c : cases) {
    const auto f = time_query(reader, c.params, c.stats, runs);
    fmt::print("{:<50} {:>9.2f} {:>9.2f}   {}\n", c.name, f.p50_ms, f.p99_ms,
               c.stats ? "p99 < 200 ms" : "p99 < 20 ms");
  }
  return 0;
}
