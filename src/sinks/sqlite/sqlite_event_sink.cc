#include "sinks/sqlite/sqlite_event_sink.h"

#include <fmt/format.h>

#include <filesystem>

#include "store/positions.h"

namespace sluice::sinks {
namespace {

std::optional<std::string> check_table_name(const config::Scalar& v) {
  const std::string& name = v.text;
  bool ok =
      !name.empty() && name.size() <= 63 && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) return fmt::format("\"{}\" is not a table name: use letters, digits and _", name);
  return std::nullopt;
}

}  // namespace

const config::Table& SqliteEventSink::settings_table() {
  static const config::Table table{
      "sqlite",
      "Stores events in a SQLite database table, exactly once (rows and positions in one "
      "transaction).",
      {
          config::string_setting("path", &Settings::path, "",
                                 "Database file, created if missing; relative to "
                                 "storage.data_dir. Empty: `<sink name>.db`."),
          config::string_setting("table", &Settings::table, "events",
                                 "Table name, created if missing.", check_table_name),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> SqliteEventSink::open(const pipeline::SinkContext& context,
                                                              const Settings& settings) {
  std::filesystem::path path(settings.path.empty() ? context.name + ".db" : settings.path);
  if (path.is_relative()) path = std::filesystem::path(context.data_dir) / path;
  try {
    return std::unique_ptr<pipeline::Sink>(
        std::make_unique<SqliteEventSink>(path.string(), settings.table, context.upsert));
  } catch (const std::exception& e) {
    return make_error(Errc::kUnavailable, fmt::format("sqlite {}: {}", path.string(), e.what()));
  }
}

SqliteEventSink::SqliteEventSink(const std::string& path, const std::string& table, bool upsert)
    : db_(path, /*read_only=*/false) {
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA busy_timeout=5000");
  // As the built-in store: a commit lost to a power failure loses its rows and positions
  // together, and the pipeline reads them again from the durable log.
  db_.exec("PRAGMA synchronous=NORMAL");
  db_.exec(fmt::format(R"sql(
    CREATE TABLE IF NOT EXISTS {0} (
      seq INTEGER PRIMARY KEY,
      stream TEXT NOT NULL,
      id TEXT NOT NULL,
      ts INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      key TEXT,
      type TEXT,
      payload TEXT NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS {0}_stream_id ON {0}(stream, id);
    CREATE INDEX IF NOT EXISTS {0}_ts ON {0}(ts);
  )sql",
                       table));
  // Versions before the one positions table kept these in pipeline_offsets.
  store::positions::prepare(db_, {"pipeline_offsets", pipeline::kConsumerPrefix});
  insert_ = db_.prepare(
      fmt::format("INSERT INTO {} (stream, id, ts, received_at, key, type, payload) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (stream, id) {}",
                  table,
                  upsert ? "DO UPDATE SET ts = excluded.ts, received_at = excluded.received_at, "
                           "key = excluded.key, type = excluded.type, payload = excluded.payload"
                         : "DO NOTHING"));
  upsert_position_ = db_.prepare(store::positions::kSqliteUpsert);
}

Result<std::optional<pipeline::Positions>> SqliteEventSink::stored_positions(
    const std::string& consumer) {
  auto rows = store::positions::read(db_, consumer);
  if (!rows) return rows.error();
  pipeline::Positions positions;
  for (const auto& [partition, position] : rows.value())
    positions[partition] = position.next;
  return std::optional<pipeline::Positions>(std::move(positions));
}

pipeline::WriteOutcome SqliteEventSink::write(const pipeline::SinkBatch& batch) {
  if (auto begun = db_.try_exec("BEGIN IMMEDIATE"); !begun) {
    return pipeline::WriteOutcome::retry(begun.error().message);
  }
  auto fail = [&](const char* what) {
    std::string reason = fmt::format("sqlite {}: {}", what, db_.error_message());
    const Fault fault = sqlite::fault_of(sqlite3_errcode(db_.handle()));
    insert_.reset();
    upsert_position_.reset();
    (void)db_.try_exec("ROLLBACK");
    return pipeline::WriteOutcome::failed(make_error(
        fault == Fault::kData ? Errc::kInvalidInput : Errc::kUnavailable, reason, fault));
  };
  for (const auto& record : batch.records) {
    const EventView& e = record.event;
    insert_.bind(1, record.stream);
    insert_.bind(2, e.id);
    insert_.bind(3, e.ts_ms);
    insert_.bind(4, e.received_at_ms);
    insert_.bind(5, e.key);
    insert_.bind(6, e.type);
    insert_.bind(7, e.payload);
    if (insert_.step() != SQLITE_DONE) return fail("insert");
    insert_.reset();
  }
  for (const auto& [partition, next] : batch.next) {
    upsert_position_.bind(1, std::string_view(batch.consumer));
    upsert_position_.bind(2, std::string_view(partition.stream));
    upsert_position_.bind(3, static_cast<std::int64_t>(partition.index));
    upsert_position_.bind(4, static_cast<std::int64_t>(next));
    upsert_position_.bind(5, std::int64_t{0});
    if (upsert_position_.step() != SQLITE_DONE) return fail("position update");
    upsert_position_.reset();
  }
  if (auto committed = db_.try_exec("COMMIT"); !committed) {
    (void)db_.try_exec("ROLLBACK");
    return pipeline::WriteOutcome::retry(committed.error().message);
  }
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
