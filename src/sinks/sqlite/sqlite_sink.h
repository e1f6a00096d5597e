#pragma once
// The SQLite sink: stores events in the embedded database that the query API reads.
//
// Exactly-once: each write stores a batch of events *and* the consumer's next log offset in one
// transaction, so after a crash the processor resumes from the offset that matches the rows.
// Events are unique per (stream, id): an id already stored (a client retry with the same
// idempotency key) is not stored again; the first copy wins.
//
// Rollups for GET /v1/stats are kept in the same transaction: per stream and minute of event
// time, the count of new events by type and by up to 3 payload fields (stats_fields), and the
// spread of their processing lag (received_at - ts). A repeated id is not counted again. When a
// stream's stats_fields change, its rollups are counted anew from the stored events.
//
// The schema is documented in docs/ARCHITECTURE.md. Used by one thread (the processor).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "log/log.h"
#include "sinks/sqlite/rollup.h"
#include "sinks/sqlite/sqlite_db.h"

namespace sluice::sqlite {

// Creates the tables and indexes if missing and sets WAL mode. Idempotent.
void create_schema(Db& db);

class SqliteSink {
 public:
  // `stats_fields`: per stream, the payload fields its rollups count by (none for others).
  explicit SqliteSink(const std::string& path,
                      std::map<std::string, std::vector<std::string>> stats_fields = {});

  // Next offset to read per partition, as committed by `consumer`; partitions never written are
  // absent.
  std::map<log::Partition, log::Offset> committed_offsets(const std::string& consumer);

  // Stores the batch's events and sets `consumer`'s offset for the partition to
  // batch.next_offset.
  Result<void> write(const std::string& consumer, const log::Partition& partition,
                     const log::ReadBatch& batch);

 private:
  RollupFields& fields_of(const std::string& stream);
  // Counts every stored event of the stream into its rollups (which must be empty).
  Result<void> recount(const std::string& stream);
  // Adds a batch's counts to the minute and hour rollups, and clears it.
  Result<void> add_rollup(const std::string& stream, RollupBatch& batch);
  // Recounts a stream's rollups when its fields differ from those they were counted by.
  Result<void> check_rollup_fields(const std::string& stream);

  Db db_;
  Stmt insert_event_;
  Stmt upsert_offset_;
  std::vector<Stmt> add_counts_, add_lag_;  // [0] by minute, [1] by hour
  std::map<std::string, std::vector<std::string>> stats_fields_;
  std::map<std::string, RollupFields> rollup_fields_;  // per stream
  RollupBatch rollup_batch_;
  std::set<std::string> checked_;  // streams whose fields were checked
};

}  // namespace sluice::sqlite
