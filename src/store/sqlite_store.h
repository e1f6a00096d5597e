#pragma once
// The embedded store: events in the SQLite file that the query API reads (the contract is
// store/store_writer.h's). An id already stored is not stored again; the first copy wins.
//
// Rollups for GET /v1/stats are kept in the same transaction: per stream and minute of event
// time, the count of new events by type and by up to 3 payload fields (stats_fields), and the
// spread of their processing lag (received_at - ts). When a stream's stats_fields change, its
// rollups are counted anew from the stored events.
//
// The schema is documented in docs/ARCHITECTURE.md. Used by one thread (the processor).

#include <map>
#include <string>
#include <vector>

#include "log/log.h"
#include "store/rollup.h"
#include "store/sqlite_db.h"
#include "store/store_writer.h"

namespace sluice::sqlite {

// Creates the tables and indexes if missing and sets WAL mode. Idempotent.
void create_schema(Db& db);

class SqliteStore : public store::StoreWriter {
 public:
  // `stats_fields`: per stream, the payload fields its rollups count by (none for others).
  explicit SqliteStore(const std::string& path,
                       std::map<std::string, std::vector<std::string>> stats_fields = {});

  Result<std::map<log::Partition, log::Offset>> committed_offsets(
      const std::string& consumer) override;
  Result<std::map<log::Partition, std::uint64_t>> skipped(const std::string& consumer) override;
  Result<void> write(const std::string& consumer, const log::Partition& partition,
                     const log::ReadBatch& batch) override;
  Result<void> prepare_statistics(const std::vector<std::string>& streams) override;

 private:
  // Counts every stored event of the stream into its rollups (which must be empty).
  Result<void> recount(const std::string& stream);
  // Adds a batch's counts to the minute and hour rollups, and clears it.
  Result<void> add_rollup(const std::string& stream, store::RollupBatch& batch);
  // Recounts a stream's rollups when its fields differ from those they were counted by.
  Result<void> check_rollup_fields(const std::string& stream);

  Db db_;
  Stmt insert_event_;
  Stmt upsert_offset_;
  std::vector<Stmt> add_counts_, add_lag_;  // [0] by minute, [1] by hour
  store::StreamRollups rollups_;
  store::RollupBatch rollup_batch_;
};

}  // namespace sluice::sqlite
