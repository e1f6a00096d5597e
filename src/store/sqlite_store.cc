#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <cmath>

#include "core/event.h"
#include "core/json_text.h"
#include "core/logging.h"
#include "store/positions.h"

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
    CREATE TABLE IF NOT EXISTS rollup_fields (
      stream TEXT PRIMARY KEY,
      fields TEXT NOT NULL          -- the stats_fields the counts were made by, as JSON
    ) WITHOUT ROWID;
  )sql");
  store::positions::prepare(db, store::positions::kStoreOlder);
  // GET /v1/stats: counts per stream, minute of event time (ts / 60000), type and stats_fields
  // (JSON text of each value, 'null' when missing), and the processing lag's spread (bucket:
  // lag_bucket of received_at - ts); by minute, and by hour (minute: the hour's first) for
  // questions over long ranges.
  for (const char* suffix : {"", "_hourly"}) {
    db.exec(fmt::format(R"sql(
      CREATE TABLE IF NOT EXISTS rollup_counts{0} (
        stream TEXT NOT NULL,
        minute INTEGER NOT NULL,
        type TEXT NOT NULL,
        d1 TEXT NOT NULL,
        d2 TEXT NOT NULL,
        d3 TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (stream, minute, type, d1, d2, d3)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS rollup_lag{0} (
        stream TEXT NOT NULL,
        minute INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (stream, minute, bucket)
      ) WITHOUT ROWID;
    )sql",
                        suffix));
  }
}

SqliteStore::SqliteStore(const std::string& path,
                         std::map<std::string, std::vector<std::string>> stats_fields)
    : db_(path, /*read_only=*/false), rollups_(std::move(stats_fields)) {
  create_schema(db_);
  for (const char* table : {"rollup_counts", "rollup_counts_hourly"}) {
    add_counts_.push_back(db_.prepare(fmt::format(
        "INSERT INTO {} (stream, minute, type, d1, d2, d3, count) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7) ON CONFLICT (stream, minute, type, d1, d2, d3) DO UPDATE SET count = count + "
        "excluded.count",
        table)));
  }
  for (const char* table : {"rollup_lag", "rollup_lag_hourly"}) {
    add_lag_.push_back(db_.prepare(fmt::format(
        "INSERT INTO {} (stream, minute, bucket, count) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (stream, minute, bucket) DO UPDATE SET count = count + excluded.count",
        table)));
  }
  // WAL with synchronous=NORMAL: a commit can be lost on power failure, but rows and offsets
  // are lost together, and the processor reads them again from the durable log.
  db_.exec("PRAGMA synchronous=NORMAL");
  insert_event_ = db_.prepare(
      "INSERT INTO events (stream, id, ts, received_at, key, type, payload) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (stream, id) DO NOTHING");
  upsert_offset_ = db_.prepare(store::positions::kSqliteUpsert);
}

Result<std::map<log::Partition, std::uint64_t>> SqliteStore::skipped(const std::string& consumer) {
  auto rows = store::positions::read(db_, consumer);
  if (!rows) return rows.error();
  std::map<log::Partition, std::uint64_t> out;
  for (const auto& [partition, position] : rows.value())
    if (position.skipped > 0) out[partition] = position.skipped;
  return out;
}

Result<std::map<log::Partition, log::Offset>> SqliteStore::committed_offsets(
    const std::string& consumer) {
  auto rows = store::positions::read(db_, consumer);
  if (!rows) return rows.error();
  std::map<log::Partition, log::Offset> out;
  for (const auto& [partition, position] : rows.value())
    out[partition] = position.next;
  return out;
}

Result<void> SqliteStore::check_rollup_fields(const std::string& stream) {
  if (rollups_.checked(stream)) return boost::outcome_v2::success();
  const auto configured = rollups_.fields_json(stream);
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
    if (auto counted = recount(stream); !counted) return counted;
    auto save = db_.prepare(
        "INSERT INTO rollup_fields (stream, fields) VALUES (?1, ?2) "
        "ON CONFLICT (stream) DO UPDATE SET fields = excluded.fields");
    save.bind(1, std::string_view(stream));
    save.bind(2, std::string_view(configured));
    if (save.step() != SQLITE_DONE) {
      return make_error(Errc::kUnavailable, "SQLite rollup fields: " + db_.error_message());
    }
  }
  rollups_.set_checked(stream);
  return boost::outcome_v2::success();
}

Result<void> SqliteStore::recount(const std::string& stream) {
  auto& fields = rollups_.fields(stream);
  auto rows = db_.prepare(
      "SELECT ts, received_at, type, payload FROM events WHERE stream = ?1 ORDER BY seq");
  rows.bind(1, std::string_view(stream));
  store::RollupBatch batch;
  std::array<std::string, 3> dims;
  std::int64_t n = 0;
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    fields.read(rows.column_text(3), dims);
    batch.add(rows.column_int(0), rows.column_int(1),
              rows.column_is_null(2) ? std::nullopt
                                     : std::optional<std::string_view>(rows.column_text(2)),
              dims);
    if (++n % 100'000 == 0) {  // bounded memory for big stores
      if (auto added = add_rollup(stream, batch); !added) return added;
    }
  }
  if (rc != SQLITE_DONE) {
    return make_error(Errc::kUnavailable, "SQLite rollup recount: " + db_.error_message());
  }
  return add_rollup(stream, batch);
}

Result<void> SqliteStore::add_rollup(const std::string& stream, store::RollupBatch& batch) {
  auto run = [&](Stmt& stmt) {
    const int rc = stmt.step();
    stmt.reset();
    return rc == SQLITE_DONE;
  };
  const store::RollupBatch hourly = batch.hourly();
  const std::array<const store::RollupBatch*, 2> levels = {&batch, &hourly};
  for (std::size_t level = 0; level < 2; ++level) {
    Stmt& add = add_counts_[level];
    for (const auto& [key, n] : levels[level]->counts) {
      add.bind(1, std::string_view(stream));
      add.bind(2, std::get<0>(key));
      add.bind(3, std::string_view(std::get<1>(key)));
      add.bind(4, std::string_view(std::get<2>(key)));
      add.bind(5, std::string_view(std::get<3>(key)));
      add.bind(6, std::string_view(std::get<4>(key)));
      add.bind(7, n);
      if (!run(add)) return make_error(Errc::kUnavailable, "SQLite rollup: " + db_.error_message());
    }
    Stmt& add_lag = add_lag_[level];
    for (const auto& [key, n] : levels[level]->lag) {
      add_lag.bind(1, std::string_view(stream));
      add_lag.bind(2, key.first);
      add_lag.bind(3, static_cast<std::int64_t>(key.second));
      add_lag.bind(4, n);
      if (!run(add_lag)) {
        return make_error(Errc::kUnavailable, "SQLite rollup: " + db_.error_message());
      }
    }
  }
  batch.clear();
  return boost::outcome_v2::success();
}

Result<void> SqliteStore::prepare_statistics(const std::vector<std::string>& streams) {
  if (auto r = db_.try_exec("BEGIN IMMEDIATE"); !r) return r;
  for (const auto& stream : streams) {
    if (auto checked = check_rollup_fields(stream); !checked) {
      (void)db_.try_exec("ROLLBACK");
      rollups_.forget_checked();
      return checked;
    }
  }
  return db_.try_exec("COMMIT");
}

Result<void> SqliteStore::write(const std::string& consumer, const log::Partition& partition,
                                const log::ReadBatch& batch) {
  const std::string& stream = partition.stream;
  if (auto r = db_.try_exec("BEGIN IMMEDIATE"); !r) return r;
  auto fail = [&](const std::string& what) -> Result<void> {
    std::string message = "SQLite " + what + ": " + db_.error_message();
    const Fault fault = sqlite::fault_of(sqlite3_errcode(db_.handle()));
    insert_event_.reset();
    upsert_offset_.reset();
    (void)db_.try_exec("ROLLBACK");
    rollups_.forget_checked();
    return make_error(fault == Fault::kData ? Errc::kInvalidInput : Errc::kUnavailable, message,
                      fault);
  };
  if (auto checked = check_rollup_fields(stream); !checked) {
    (void)db_.try_exec("ROLLBACK");
    rollups_.forget_checked();
    return checked;
  }
  auto& fields = rollups_.fields(stream);
  store::RollupBatch& rollup = rollup_batch_;
  rollup.clear();
  std::array<std::string, 3> dims;
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
    // Counted only when stored: a repeated id inserts nothing.
    if (sqlite3_changes(db_.handle()) > 0) {
      fields.read(event->payload, dims);
      rollup.add(event->ts_ms, event->received_at_ms, event->type, dims);
    }
  }
  if (auto counted = add_rollup(stream, rollup); !counted) {
    (void)db_.try_exec("ROLLBACK");
    rollups_.forget_checked();
    return counted;
  }
  upsert_offset_.bind(1, std::string_view(consumer));
  upsert_offset_.bind(2, std::string_view(stream));
  upsert_offset_.bind(3, static_cast<std::int64_t>(partition.index));
  upsert_offset_.bind(4, static_cast<std::int64_t>(batch.next_offset));
  upsert_offset_.bind(5, static_cast<std::int64_t>(batch.skipped));
  if (upsert_offset_.step() != SQLITE_DONE) return fail("offset update");
  upsert_offset_.reset();
  if (auto r = db_.try_exec("COMMIT"); !r) {
    (void)db_.try_exec("ROLLBACK");
    rollups_.forget_checked();
    return r;
  }
  return boost::outcome_v2::success();
}

}  // namespace sluice::sqlite
