#include "store/positions.h"

#include <fmt/format.h>

#include <stdexcept>

namespace sluice::store::positions {
namespace {

bool sqlite_has(sqlite::Db& db, const char* table, std::string_view column) {
  auto stmt =
      db.prepare(column.empty() ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"
                                : "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  stmt.bind(1, std::string_view(table));
  if (!column.empty()) stmt.bind(2, column);
  return stmt.step() == SQLITE_ROW;
}

}  // namespace

void prepare(sqlite::Db& db, const Older& older) {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(R"sql(
      CREATE TABLE IF NOT EXISTS sluice_positions (
        consumer TEXT NOT NULL,
        stream TEXT NOT NULL,
        partition INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        skipped INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (consumer, stream, partition)
      ) WITHOUT ROWID
    )sql");
    if (sqlite_has(db, older.table, "")) {
      // Tables older still did not count skipped events.
      const char* skipped = sqlite_has(db, older.table, "skipped") ? "skipped" : "0";
      db.exec(fmt::format(
          "INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped) "
          "SELECT '{1}' || consumer, stream, partition, next_offset, {2} FROM {0} WHERE true "
          "ON CONFLICT DO NOTHING; DROP TABLE {0}",
          older.table, older.consumer_prefix, skipped));
    }
    db.exec("COMMIT");
  } catch (...) {
    (void)db.try_exec("ROLLBACK");
    throw;
  }
}

Result<Rows> read(sqlite::Db& db, const std::string& consumer) {
  auto stmt = db.prepare(
      "SELECT stream, partition, next_offset, skipped FROM sluice_positions WHERE consumer = ?1");
  stmt.bind(1, std::string_view(consumer));
  Rows rows;
  int rc;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    rows[log::Partition(std::string(stmt.column_text(0)),
                        static_cast<std::uint32_t>(stmt.column_int(1)))] = {
        .next = static_cast<log::Offset>(stmt.column_int(2)),
        .skipped = static_cast<std::uint64_t>(stmt.column_int(3))};
  }
  if (rc != SQLITE_DONE) {
    return make_error(Errc::kUnavailable, "sqlite: reading positions: " + db.error_message(),
                      sqlite::fault_of(rc));
  }
  return rows;
}

}  // namespace sluice::store::positions
