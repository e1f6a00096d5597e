#include "windows/window_store.h"

#include <boost/json.hpp>

#include "core/json_write.h"
#include "core/time.h"
#include "windows/postgres_window_store.h"

namespace sluice::windows {

namespace json = boost::json;

bool is_postgres_url(std::string_view location) {
  return location.starts_with("postgres://") || location.starts_with("postgresql://");
}

std::unique_ptr<WindowStore> open_window_store(const std::string& location) {
  if (is_postgres_url(location)) return std::make_unique<PostgresWindowStore>(location);
  return std::make_unique<SqliteWindowStore>(location);
}

std::string positions_json(const std::map<log::Partition, log::Offset>& positions) {
  json::array out;
  for (const auto& [partition, offset] : positions) {
    out.push_back(json::array{json::value(partition.stream), partition.index,
                              static_cast<std::int64_t>(offset)});
  }
  return json::serialize(out);
}

Result<std::map<log::Partition, log::Offset>> parse_positions(std::string_view text,
                                                              const std::string& window) {
  boost::system::error_code ec;
  auto positions = json::parse(text, ec);
  if (ec || !positions.is_array()) {
    return make_error(Errc::kCorrupt, "unreadable positions for " + window);
  }
  std::map<log::Partition, log::Offset> out;
  for (const auto& p : positions.get_array()) {
    const auto* entry = p.if_array();
    if (!entry || entry->size() != 3 || !(*entry)[0].is_string() || !(*entry)[1].is_int64() ||
        !(*entry)[2].is_int64()) {
      return make_error(Errc::kCorrupt, "unreadable positions for " + window);
    }
    out[log::Partition(std::string((*entry)[0].get_string()),
                       static_cast<std::uint32_t>((*entry)[1].get_int64()))] =
        static_cast<log::Offset>((*entry)[2].get_int64());
  }
  return out;
}

SqliteWindowStore::SqliteWindowStore(const std::string& path) : db_(path, /*read_only=*/false) {
  db_.exec("PRAGMA journal_mode=WAL");
  // A lost commit loses its results and its checkpoint together; the log replays them.
  db_.exec("PRAGMA synchronous=NORMAL");
  db_.exec(R"sql(
    CREATE TABLE IF NOT EXISTS window_results (
      window TEXT NOT NULL,
      key TEXT NOT NULL,
      start INTEGER NOT NULL,
      end INTEGER NOT NULL,
      events INTEGER NOT NULL,
      value TEXT NOT NULL,
      final INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (window, key, start)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS window_results_end ON window_results (window, end);
    CREATE TABLE IF NOT EXISTS window_checkpoints (
      window TEXT PRIMARY KEY,
      definition TEXT NOT NULL,
      state TEXT NOT NULL,
      positions TEXT NOT NULL,
      outbox TEXT NOT NULL DEFAULT '[]',
      taken_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  )sql");
  // Files written before the outbox column existed.
  if (auto has = db_.prepare("SELECT 1 FROM pragma_table_info('window_checkpoints') "
                             "WHERE name = 'outbox'");
      has.step() != SQLITE_ROW) {
    db_.exec("ALTER TABLE window_checkpoints ADD COLUMN outbox TEXT NOT NULL DEFAULT '[]'");
  }
  upsert_result_ = db_.prepare(
      "INSERT INTO window_results (window, key, start, end, events, value, final, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (window, key, start) DO UPDATE SET "
      "end = excluded.end, events = excluded.events, value = excluded.value, "
      "final = excluded.final, updated_at = excluded.updated_at");
  save_checkpoint_ = db_.prepare(
      "INSERT INTO window_checkpoints (window, definition, state, positions, outbox, taken_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (window) DO UPDATE SET "
      "definition = excluded.definition, state = excluded.state, "
      "positions = excluded.positions, outbox = excluded.outbox, taken_at = excluded.taken_at");
}

Result<std::optional<Checkpoint>> SqliteWindowStore::load(const std::string& window) {
  auto stmt = db_.prepare(
      "SELECT definition, state, positions, outbox FROM window_checkpoints "
      "WHERE window = ?1");
  stmt.bind(1, std::string_view(window));
  const int rc = stmt.step();
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>{};
  if (rc != SQLITE_ROW) {
    return make_error(Errc::kUnavailable,
                      "windows.db: reading a checkpoint: " + db_.error_message());
  }
  Checkpoint checkpoint{std::string(stmt.column_text(0)),
                        std::string(stmt.column_text(1)),
                        {},
                        std::string(stmt.column_text(3))};
  auto positions = parse_positions(stmt.column_text(2), window);
  if (!positions) return positions.error();
  checkpoint.positions = std::move(positions.value());
  return std::optional<Checkpoint>(std::move(checkpoint));
}

Result<void> SqliteWindowStore::upsert(const std::string& window, const WindowResult& result,
                                       bool final, std::int64_t now) {
  const std::string value = json_text(result.values);
  upsert_result_.bind(1, std::string_view(window));
  upsert_result_.bind(2, std::string_view(result.key));
  upsert_result_.bind(3, result.start_ms);
  upsert_result_.bind(4, result.end_ms);
  upsert_result_.bind(5, result.events);
  upsert_result_.bind(6, std::string_view(value));
  upsert_result_.bind(7, std::int64_t{final ? 1 : 0});
  upsert_result_.bind(8, now);
  const int rc = upsert_result_.step();
  upsert_result_.reset();
  if (rc != SQLITE_DONE) {
    return make_error(Errc::kUnavailable, "windows.db: storing a result: " + db_.error_message());
  }
  return boost::outcome_v2::success();
}

Result<void> SqliteWindowStore::save(const std::string& window,
                                     const std::vector<WindowResult>& final_results,
                                     const std::vector<WindowResult>& early_results,
                                     const Checkpoint& checkpoint) {
  if (auto begun = db_.try_exec("BEGIN IMMEDIATE"); !begun) return begun.error();
  auto fail = [&](Error error) -> Result<void> {
    (void)db_.try_exec("ROLLBACK");
    return error;
  };
  const std::int64_t now = now_ms();
  for (const auto& r : early_results) {
    if (auto stored = upsert(window, r, false, now); !stored) return fail(stored.error());
  }
  for (const auto& r : final_results) {
    if (auto stored = upsert(window, r, true, now); !stored) return fail(stored.error());
  }
  const std::string positions_text = positions_json(checkpoint.positions);
  save_checkpoint_.bind(1, std::string_view(window));
  save_checkpoint_.bind(2, std::string_view(checkpoint.definition));
  save_checkpoint_.bind(3, std::string_view(checkpoint.state));
  save_checkpoint_.bind(4, std::string_view(positions_text));
  save_checkpoint_.bind(5, std::string_view(checkpoint.outbox));
  save_checkpoint_.bind(6, now);
  const int rc = save_checkpoint_.step();
  save_checkpoint_.reset();
  if (rc != SQLITE_DONE) {
    return fail(
        make_error(Errc::kUnavailable, "windows.db: storing a checkpoint: " + db_.error_message()));
  }
  if (auto committed = db_.try_exec("COMMIT"); !committed) return fail(committed.error());
  return boost::outcome_v2::success();
}

Result<void> SqliteWindowStore::forget(const std::string& window) {
  auto results = db_.prepare("DELETE FROM window_results WHERE window = ?1");
  results.bind(1, std::string_view(window));
  auto checkpoint = db_.prepare("DELETE FROM window_checkpoints WHERE window = ?1");
  checkpoint.bind(1, std::string_view(window));
  if (results.step() != SQLITE_DONE || checkpoint.step() != SQLITE_DONE) {
    return make_error(Errc::kUnavailable, "windows.db: " + db_.error_message());
  }
  return boost::outcome_v2::success();
}

}  // namespace sluice::windows
