#include "sinks/sqlite/sqlite_sink.h"

#include <fmt/format.h>

#include <cmath>

#include "core/event.h"
#include "core/json_text.h"
#include "core/logging.h"

namespace sluice::sqlite {

void create_schema(Db& db) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,      -- storage order; the tie-breaker of every keyset page
      stream TEXT NOT NULL,
      id TEXT NOT NULL,
      ts INTEGER NOT NULL,          -- event time, ms since the epoch
      received_at INTEGER NOT NULL, -- ms since the epoch
      key TEXT,
      type TEXT,
      payload TEXT NOT NULL         -- the event object exactly as received
    );
    CREATE UNIQUE INDEX IF NOT EXISTS events_stream_id ON events(stream, id);
    CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
    CREATE INDEX IF NOT EXISTS events_stream_ts ON events(stream, ts);
    CREATE INDEX IF NOT EXISTS events_type_ts ON events(type, ts);
    -- GET /v1/stats: counts per stream, minute of event time, type and stats_fields (JSON text
    -- of each value, 'null' when missing), and the processing lag's spread per minute.
    CREATE TABLE IF NOT EXISTS rollup_counts (
      stream TEXT NOT NULL,
      minute INTEGER NOT NULL,      -- ts / 60000
      type TEXT NOT NULL,
      d1 TEXT NOT NULL,
      d2 TEXT NOT NULL,
      d3 TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (stream, minute, type, d1, d2, d3)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS rollup_lag (
      stream TEXT NOT NULL,
      minute INTEGER NOT NULL,
      bucket INTEGER NOT NULL,      -- of received_at - ts (lag_bucket)
      count INTEGER NOT NULL,
      PRIMARY KEY (stream, minute, bucket)
    ) WITHOUT ROWID;
    -- The same by hour (minute is the hour's first minute), for questions over long ranges.
    CREATE TABLE IF NOT EXISTS rollup_counts_hourly (
      stream TEXT NOT NULL,
      minute INTEGER NOT NULL,
      type TEXT NOT NULL,
      d1 TEXT NOT NULL,
      d2 TEXT NOT NULL,
      d3 TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (stream, minute, type, d1, d2, d3)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS rollup_lag_hourly (
      stream TEXT NOT NULL,
      minute INTEGER NOT NULL,
      bucket INTEGER NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (stream, minute, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS rollup_fields (
      stream TEXT PRIMARY KEY,
      fields TEXT NOT NULL          -- the stats_fields the counts were made by, as JSON
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS consumer_offsets (
      consumer TEXT NOT NULL,
      stream TEXT NOT NULL,
      partition INTEGER NOT NULL,
      next_offset INTEGER NOT NULL,
      PRIMARY KEY (consumer, stream, partition)
    ) WITHOUT ROWID;
  )sql");
}

int lag_bucket(std::int64_t lag_ms) {
  if (lag_ms <= 0) return 0;
  return 1 + static_cast<int>(std::floor(4 * std::log2(static_cast<double>(lag_ms))));
}

double lag_bucket_ms(int bucket) {
  if (bucket <= 0) return 0;
  return std::exp2((bucket - 0.5) / 4);
}

namespace {

void sql_lag_bucket(sqlite3_context* context, int, sqlite3_value** args) {
  sqlite3_result_int(context, lag_bucket(sqlite3_value_int64(args[0])));
}

std::string fields_json(const std::vector<std::string>& fields) {
  std::string out = "[";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, fields[i]);
  }
  return out + "]";
}

}  // namespace

SqliteSink::SqliteSink(const std::string& path,
                       std::map<std::string, std::vector<std::string>> stats_fields)
    : db_(path, /*read_only=*/false), stats_fields_(std::move(stats_fields)) {
  create_schema(db_);
  sqlite3_create_function(db_.handle(), "sluice_lag_bucket", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                          nullptr, sql_lag_bucket, nullptr, nullptr);
  max_seq_ = db_.prepare("SELECT ifnull(max(seq), 0) FROM events");
  db_.exec(
      "CREATE TEMP TABLE batch_counts (minute INTEGER, type TEXT, d1 TEXT, d2 TEXT, d3 TEXT, "
      "count INTEGER); "
      "CREATE TEMP TABLE batch_lag (minute INTEGER, bucket INTEGER, count INTEGER)");
  // WAL with synchronous=NORMAL: a commit can be lost on power failure, but rows and offsets
  // are lost together, and the processor reads them again from the durable log.
  db_.exec("PRAGMA synchronous=NORMAL");
  insert_event_ = db_.prepare(
      "INSERT INTO events (stream, id, ts, received_at, key, type, payload) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (stream, id) DO NOTHING");
  upsert_offset_ = db_.prepare(
      "INSERT INTO consumer_offsets (consumer, stream, partition, next_offset) "
      "VALUES (?1, ?2, ?4, ?3) "
      "ON CONFLICT (consumer, stream, partition) DO UPDATE SET next_offset = excluded.next_offset");
}

std::map<log::Partition, log::Offset> SqliteSink::committed_offsets(const std::string& consumer) {
  auto stmt = db_.prepare(
      "SELECT stream, partition, next_offset FROM consumer_offsets WHERE consumer = ?1");
  stmt.bind(1, std::string_view(consumer));
  std::map<log::Partition, log::Offset> offsets;
  while (stmt.step() == SQLITE_ROW) {
    log::Partition partition(std::string(stmt.column_text(0)),
                             static_cast<std::uint32_t>(stmt.column_int(1)));
    offsets[partition] = static_cast<log::Offset>(stmt.column_int(2));
  }
  return offsets;
}

Result<void> SqliteSink::check_rollup_fields(const std::string& stream) {
  if (checked_.contains(stream)) return boost::outcome_v2::success();
  const auto configured =
      stats_fields_.contains(stream) ? fields_json(stats_fields_.at(stream)) : std::string("[]");
  auto stored = db_.prepare("SELECT fields FROM rollup_fields WHERE stream = ?1");
  stored.bind(1, std::string_view(stream));
  const bool same = stored.step() == SQLITE_ROW && stored.column_text(0) == configured;
  stored.reset();
  if (!same) {
    // Counted anew from the stored events, in the transaction of the batch at hand.
    logger("store")->info("counting the statistics of stream={} by fields={}", stream, configured);
    for (const char* table :
         {"rollup_counts", "rollup_lag", "rollup_counts_hourly", "rollup_lag_hourly"}) {
      auto clear = db_.prepare(fmt::format("DELETE FROM {} WHERE stream = ?1", table));
      clear.bind(1, std::string_view(stream));
      if (clear.step() != SQLITE_DONE) {
        return make_error(Errc::kUnavailable, "SQLite rollup reset: " + db_.error_message());
      }
    }
    if (auto counted = roll_up(stream, 0); !counted) return counted;
    auto save = db_.prepare(
        "INSERT INTO rollup_fields (stream, fields) VALUES (?1, ?2) "
        "ON CONFLICT (stream) DO UPDATE SET fields = excluded.fields");
    save.bind(1, std::string_view(stream));
    save.bind(2, std::string_view(configured));
    if (save.step() != SQLITE_DONE) {
      return make_error(Errc::kUnavailable, "SQLite rollup fields: " + db_.error_message());
    }
  }
  checked_.insert(stream);
  return boost::outcome_v2::success();
}

Result<void> SqliteSink::roll_up(const std::string& stream, std::int64_t after_seq) {
  auto it = roll_up_.find(stream);
  if (it == roll_up_.end()) {
    // The batch's new rows are grouped once (the costly part: reading the fields out of the
    // payloads) into temp tables, which then add to the minute and the hour rollups. The
    // dimensions are JSON text (json_quote), so 5 and "5" stay apart and a missing field is
    // 'null'. Field paths are bound, never written into the SQL.
    std::string dims;
    const auto fields =
        stats_fields_.contains(stream) ? stats_fields_.at(stream) : std::vector<std::string>{};
    for (std::size_t i = 0; i < 3; ++i) {
      dims += i < fields.size() ? fmt::format(", json_quote(json_extract(payload, ?{}))", 3 + i)
                                : std::string(", 'null'");
    }
    RollUp r;
    r.group_counts = db_.prepare(
        "INSERT INTO temp.batch_counts (minute, type, d1, d2, d3, count) "
        "SELECT ts / 60000, json_quote(type)" +
        dims + ", count(*) FROM events WHERE seq > ?2 AND +stream = ?1 GROUP BY 1, 2, 3, 4, 5");
    r.group_lag = db_.prepare(
        "INSERT INTO temp.batch_lag (minute, bucket, count) "
        "SELECT ts / 60000, sluice_lag_bucket(received_at - ts), count(*) FROM events "
        "WHERE seq > ?2 AND +stream = ?1 GROUP BY 1, 2");
    for (const auto& [table, minute] : {std::pair{"rollup_counts", "minute"},
                                        std::pair{"rollup_counts_hourly", "minute / 60 * 60"}}) {
      r.add.push_back(db_.prepare(fmt::format(
          "INSERT INTO {0} (stream, minute, type, d1, d2, d3, count) "
          "SELECT ?1, {1}, type, d1, d2, d3, sum(count) FROM temp.batch_counts WHERE true "
          "GROUP BY 2, 3, 4, 5, 6 ON CONFLICT (stream, minute, type, d1, d2, d3) DO UPDATE SET "
          "count = count + excluded.count",
          table, minute)));
    }
    for (const auto& [table, minute] :
         {std::pair{"rollup_lag", "minute"}, std::pair{"rollup_lag_hourly", "minute / 60 * 60"}}) {
      r.add.push_back(db_.prepare(fmt::format(
          "INSERT INTO {0} (stream, minute, bucket, count) "
          "SELECT ?1, {1}, bucket, sum(count) FROM temp.batch_lag WHERE true GROUP BY 2, 3 "
          "ON CONFLICT (stream, minute, bucket) DO UPDATE SET count = count + excluded.count",
          table, minute)));
    }
    it = roll_up_.emplace(stream, std::move(r)).first;
  }
  RollUp& r = it->second;
  auto run = [&](Stmt& stmt) {
    const int rc = stmt.step();
    stmt.reset();
    return rc == SQLITE_DONE;
  };
  if (!db_.try_exec("DELETE FROM temp.batch_counts") ||
      !db_.try_exec("DELETE FROM temp.batch_lag")) {
    return make_error(Errc::kUnavailable, "SQLite rollup: " + db_.error_message());
  }
  const auto fields =
      stats_fields_.contains(stream) ? stats_fields_.at(stream) : std::vector<std::string>{};
  std::vector<std::string> paths;
  for (const auto& field : fields)
    paths.push_back("$." + field);
  r.group_counts.bind(1, std::string_view(stream));
  r.group_counts.bind(2, after_seq);
  for (std::size_t i = 0; i < paths.size(); ++i)
    r.group_counts.bind(static_cast<int>(3 + i), std::string_view(paths[i]));
  r.group_lag.bind(1, std::string_view(stream));
  r.group_lag.bind(2, after_seq);
  bool ok = run(r.group_counts) && run(r.group_lag);
  for (auto& add : r.add) {
    if (!ok) break;
    add.bind(1, std::string_view(stream));
    ok = run(add);
  }
  if (!ok) return make_error(Errc::kUnavailable, "SQLite rollup: " + db_.error_message());
  return boost::outcome_v2::success();
}

Result<void> SqliteSink::write(const std::string& consumer, const log::Partition& partition,
                               const log::ReadBatch& batch) {
  const std::string& stream = partition.stream;
  if (auto r = db_.try_exec("BEGIN IMMEDIATE"); !r) return r;
  auto fail = [&](const std::string& what) -> Result<void> {
    std::string message = "SQLite " + what + ": " + db_.error_message();
    insert_event_.reset();
    upsert_offset_.reset();
    (void)db_.try_exec("ROLLBACK");
    return make_error(Errc::kUnavailable, message);
  };
  if (auto checked = check_rollup_fields(stream); !checked) {
    (void)db_.try_exec("ROLLBACK");
    return checked;
  }
  if (max_seq_.step() != SQLITE_ROW) return fail("max(seq)");
  const std::int64_t before = max_seq_.column_int(0);
  max_seq_.reset();
  for (const auto& record : batch.records) {
    auto event = decode_event(record.bytes);
    if (!event) {
      return fail("insert (undecodable record at offset " + std::to_string(record.offset) + ")");
    }
    insert_event_.bind(1, std::string_view(stream));
    insert_event_.bind(2, event->id);
    insert_event_.bind(3, event->ts_ms);
    insert_event_.bind(4, event->received_at_ms);
    insert_event_.bind(5, event->key);
    insert_event_.bind(6, event->type);
    insert_event_.bind(7, event->payload);
    if (insert_event_.step() != SQLITE_DONE) return fail("insert");
    insert_event_.reset();
  }
  if (auto counted = roll_up(stream, before); !counted) {
    (void)db_.try_exec("ROLLBACK");
    return counted;
  }
  upsert_offset_.bind(1, std::string_view(consumer));
  upsert_offset_.bind(2, std::string_view(stream));
  upsert_offset_.bind(3, static_cast<std::int64_t>(batch.next_offset));
  upsert_offset_.bind(4, static_cast<std::int64_t>(partition.index));
  if (upsert_offset_.step() != SQLITE_DONE) return fail("offset update");
  upsert_offset_.reset();
  if (auto r = db_.try_exec("COMMIT"); !r) {
    (void)db_.try_exec("ROLLBACK");
    return r;
  }
  return boost::outcome_v2::success();
}

}  // namespace sluice::sqlite
