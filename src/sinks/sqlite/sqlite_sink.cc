#include "sinks/sqlite/sqlite_sink.h"

#include "core/event.h"

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
    CREATE TABLE IF NOT EXISTS consumer_offsets (
      consumer TEXT NOT NULL,
      stream TEXT NOT NULL,
      partition INTEGER NOT NULL,
      next_offset INTEGER NOT NULL,
      PRIMARY KEY (consumer, stream, partition)
    ) WITHOUT ROWID;
  )sql");
}

SqliteSink::SqliteSink(const std::string& path) : db_(path, /*read_only=*/false) {
  create_schema(db_);
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
