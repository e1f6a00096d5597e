#pragma once
// The SQLite sink: stores events in the embedded database that the query API reads.
//
// Exactly-once: each write stores a batch of events *and* the consumer's next log offset in one
// transaction, so after a crash the processor resumes from the offset that matches the rows.
// Events are unique per (stream, id): an id already stored (a client retry with the same
// idempotency key) is not stored again; the first copy wins.
//
// The schema is documented in docs/ARCHITECTURE.md. Used by one thread (the processor).

#include <map>
#include <string>

#include "log/log.h"
#include "sinks/sqlite/sqlite_db.h"

namespace sluice::sqlite {

// Creates the tables and indexes if missing and sets WAL mode. Idempotent.
void create_schema(Db& db);

class SqliteSink {
 public:
  explicit SqliteSink(const std::string& path);

  // Next offset to read per partition, as committed by `consumer`; partitions never written are
  // absent.
  std::map<log::Partition, log::Offset> committed_offsets(const std::string& consumer);

  // Stores the batch's events and sets `consumer`'s offset for the partition to
  // batch.next_offset.
  Result<void> write(const std::string& consumer, const log::Partition& partition,
                     const log::ReadBatch& batch);

 private:
  Db db_;
  Stmt insert_event_;
  Stmt upsert_offset_;
};

}  // namespace sluice::sqlite
