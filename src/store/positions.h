#pragma once
// The one table of read positions: every consumer that commits where it has read together with
// what it wrote keeps its rows in `sluice_positions` of the database it writes to, in the same
// transaction as the rows. The store writer is the consumer "store"; each pipeline is
// "pipeline.<name>" (pipeline/sink.h), so a pipeline may write into the store's own database. Both
// dialects, and the move of rows from the tables earlier versions kept (consumer_offsets in the
// store, pipeline_offsets and sluice_pipeline_offsets in the sinks' databases). This header
// holds what both dialects share and SQLite's side; PostgreSQL's is in postgres_positions.h.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "log/log.h"
#include "store/sqlite_db.h"

namespace sluice::store::positions {

inline constexpr const char* kTable = "sluice_positions";
inline constexpr const char* kStoreConsumer = "store";

struct Position {
  log::Offset next = 0;       // the next offset to read
  std::uint64_t skipped = 0;  // deleted by retention before the consumer read them
};
using Rows = std::map<log::Partition, Position>;

// A table of positions that an earlier version kept: its rows move to sluice_positions, their
// consumer names prefixed with `consumer_prefix`, and the table is dropped.
struct Older {
  const char* table;
  const char* consumer_prefix;
};
inline constexpr Older kStoreOlder{"consumer_offsets", ""};

// SQLite: makes the table and moves the rows of `older` (if that table exists) in one
// transaction. Throws std::runtime_error as Db::exec does (start-up use).
void prepare(sqlite::Db& db, const Older& older);
// ?1 consumer, ?2 stream, ?3 partition, ?4 next offset, ?5 skipped since the last upsert.
inline constexpr const char* kSqliteUpsert =
    "INSERT INTO sluice_positions (consumer, stream, partition, next_offset, skipped) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (consumer, stream, partition) DO UPDATE SET "
    "next_offset = excluded.next_offset, skipped = sluice_positions.skipped + excluded.skipped";
Result<Rows> read(sqlite::Db& db, const std::string& consumer);

}  // namespace sluice::store::positions
