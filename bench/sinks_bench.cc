// Pipeline throughput from the embedded log into SQLite and PostgreSQL, each against the raw
// ceiling measured in the same run with the same rows: a plain prepared-INSERT loop in
// transactions of the same size (SQLite) and one plain COPY of every row (PostgreSQL).
//
// The log is filled first; then a real pipeline (src/pipeline/, built from configuration like
// any other) reads it into the sink and the time until its lag is 0 is measured.
//
// usage: bench_sinks DIR EVENTS [POSTGRES_URL]   (bench/run starts a PostgreSQL for it)

#include <fmt/format.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/time.h"
#include "log/embedded/embedded_log.h"
#include "pipeline/pipeline_set.h"
#include "store/copy_binary.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 5000;  // events per sink batch, pipeline and ceilings alike

struct Row {
  std::string id;
  std::string payload;
  std::int64_t ts;
};

std::vector<Row> make_rows(int count) {
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(count));
  const std::int64_t base = sluice::now_ms();
  for (int i = 0; i < count; ++i) {
    // 200 bytes, the size the targets are stated for.
    std::string payload = fmt::format(
        R"({{"event_type":"page_view","user_id":"u-{}","page":"/pricing","n":{},"pad":")", i % 5000,
        i);
    payload.append(200 - std::min<std::size_t>(payload.size() + 2, 200), 'x');
    payload += "\"}";
    rows.push_back({fmt::format("0199dd55-9f3b-7a1c-8d2e-{:012}", i), payload, base + i});
  }
  return rows;
}

void fill_log(sluice::log::Log& log, const std::vector<Row>& rows) {
  for (std::size_t start = 0; start < rows.size(); start += 1000) {
    sluice::log::RecordBatch batch;
    for (std::size_t i = start; i < std::min(rows.size(), start + 1000); ++i) {
      batch.add(sluice::EventView{.id = rows[i].id,
                                  .ts_ms = rows[i].ts,
                                  .received_at_ms = rows[i].ts,
                                  .type = std::string_view("page_view"),
                                  .payload = rows[i].payload});
    }
    batch.seal();
    std::promise<void> done;
    log.append("events", std::move(batch), [&](auto) { done.set_value(); });
    done.get_future().wait();
  }
}

// Runs a new pipeline (its own consumer group: it reads the log from the start) from `events`
// into the sink described by `sink_yaml` until it has read every event; returns events/s.
double run_pipeline(sluice::log::Log& log, const std::string& data_dir, const std::string& name,
                    const std::string& sink_yaml, std::size_t events) {
  auto loaded = sluice::config::load_text(fmt::format(
      "storage: {{data_dir: {}}}\n"
      "sinks: {{s: {}}}\n"
      "pipelines: {{{}: {{from: [events], to: [s], batch: {{max_events: {}, max_bytes: 64MiB, "
      "max_wait: 0}}}}}}\n",
      data_dir, sink_yaml, name, kBatch));
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", sluice::config::format_errors(loaded.errors, "bench").c_str());
    std::exit(1);
  }
  auto set = sluice::pipeline::PipelineSet::build(loaded.config, log);
  if (!set) {
    std::fprintf(stderr, "%s\n", set.error().message.c_str());
    std::exit(1);
  }
  const auto start = Clock::now();
  set.value()->start();
  for (;;) {
    auto status = set.value()->statuses().front();
    if (status.read >= events && status.lag == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  set.value()->stop();
  return static_cast<double>(events) / seconds;
}

// The SQLite ceiling: the same rows, one prepared INSERT each, kBatch per transaction, into a
// table with the sink's columns and unique index.
double sqlite_ceiling(const std::string& path, const std::vector<Row>& rows) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
               "CREATE TABLE ev (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, id TEXT NOT NULL,"
               " ts INTEGER NOT NULL, received_at INTEGER NOT NULL, key TEXT, type TEXT,"
               " payload TEXT NOT NULL);"
               "CREATE UNIQUE INDEX ev_stream_id ON ev(stream, id); CREATE INDEX ev_ts ON ev(ts);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO ev (stream, id, ts, received_at, key, type, payload) "
                     "VALUES ('events', ?1, ?2, ?2, NULL, 'page_view', ?3)",
                     -1, &insert, nullptr);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i % kBatch == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert, 1, rows[i].id.data(), static_cast<int>(rows[i].id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(insert, 2, rows[i].ts);
    sqlite3_bind_text(insert, 3, rows[i].payload.data(), static_cast<int>(rows[i].payload.size()),
                      SQLITE_STATIC);
    sqlite3_step(insert);
    sqlite3_reset(insert);
    if (i % kBatch == kBatch - 1 || i + 1 == rows.size()) {
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return static_cast<double>(rows.size()) / seconds;
}

// The PostgreSQL ceiling: one COPY of every row (binary format, the sink's fastest) into a
// table with the sink's columns, primary key and index, in one transaction. The pipeline's
// table and positions from an earlier run are dropped too, so it starts from the beginning.
double postgres_ceiling(const std::string& url, const std::vector<Row>& rows) {
  PGconn* conn = PQconnectdb(url.c_str());
  PQclear(
      PQexec(conn,
             "SET client_min_messages = warning; DROP TABLE IF EXISTS events;"
             "DROP TABLE IF EXISTS sluice_pipeline_offsets; DROP TABLE IF EXISTS sluice_positions;"
             "DROP TABLE IF EXISTS ev_ceiling; "
             "CREATE TABLE ev_ceiling (stream text NOT NULL,"
             " id text NOT NULL, ts timestamptz NOT NULL, received_at timestamptz NOT NULL,"
             " key text, type text, payload jsonb NOT NULL, PRIMARY KEY (stream, id));"
             "CREATE INDEX ON ev_ceiling (ts);"));
  const auto start = Clock::now();
  PQclear(PQexec(conn, "BEGIN"));
  PQclear(PQexec(conn, "COPY ev_ceiling FROM STDIN (FORMAT binary)"));
  namespace copy = sluice::store::copy_binary;
  std::string chunk{copy::kBinaryHeader};
  for (const auto& row : rows) {
    copy::append_row(
        chunk, {"events", row.id, row.ts, row.ts, std::nullopt, "page_view", row.payload}, true);
    if (chunk.size() > (256 << 10)) {
      PQputCopyData(conn, chunk.data(), static_cast<int>(chunk.size()));
      chunk.clear();
    }
  }
  copy::append_trailer(chunk);
  PQputCopyData(conn, chunk.data(), static_cast<int>(chunk.size()));
  PQputCopyEnd(conn, nullptr);
  while (PGresult* result = PQgetResult(conn)) {
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      std::fprintf(stderr, "COPY: %s", PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQclear(PQexec(conn, "COMMIT"));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  PQfinish(conn);
  return static_cast<double>(rows.size()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_sinks DIR EVENTS [POSTGRES_URL]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int events = std::atoi(argv[2]);
  const std::string postgres = argc > 3 ? argv[3] : "";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto rows = make_rows(events);
  sluice::LogConfig log_config;
  sluice::log::EmbeddedLog log((dir / "log").string(), {"events", "dead_letters"}, log_config);
  fill_log(log, rows);
  std::printf("%d events of %zu bytes in the log; sink batches of %d\n", events,
              rows.front().payload.size(), kBatch);

  const double sqlite_raw = sqlite_ceiling((dir / "ceiling.db").string(), rows);
  const double sqlite_ours =
      run_pipeline(log, dir.string(), "to_sqlite", "{sqlite: {table: events}}", rows.size());
  std::printf(
      "log -> SQLite pipeline %9.0f events/s   ceiling (prepared INSERT loop) %9.0f rows/s"
      "   ratio %.2f (target >= 0.70)\n",
      sqlite_ours, sqlite_raw, sqlite_ours / sqlite_raw);
  if (!postgres.empty()) {
    const double pg_raw = postgres_ceiling(postgres, rows);
    const double pg_ours = run_pipeline(
        log, dir.string(), "to_postgres",
        fmt::format("{{postgres: {{url: '{}', table: events}}}}", postgres), rows.size());
    std::printf(
        "log -> PostgreSQL      %9.0f events/s   ceiling (one binary COPY)      %9.0f rows/s"
        "   ratio %.2f (target >= 0.70 and >= 250000 events/s)\n",
        pg_ours, pg_raw, pg_ours / pg_raw);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
