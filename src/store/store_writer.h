#pragma once
// Where the processor keeps the events it reads from the log, for the query API: the embedded
// SQLite file (store/sqlite_store.h) or a PostgreSQL database (store/postgres_store.h).
//
// Exactly-once: each write stores a batch of events, their rollups for GET /v1/stats and the
// consumer's next log offset in one transaction, so after a crash the processor resumes from
// the offset that matches the rows. Events are unique per (stream, id): an id already stored
// (a client retry with the same idempotency key) is neither stored nor counted again.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "log/log.h"
#include "store/store_settings.h"

namespace sluice::store {

class StoreWriter {
 public:
  virtual ~StoreWriter() = default;
  // Next offset to read per partition, as committed by `consumer`; partitions never written are
  // absent.
  virtual Result<std::map<log::Partition, log::Offset>> committed_offsets(
      const std::string& consumer) = 0;
  // Takes `partitions` over for `consumer` and answers where each goes on (absent: from 0).
  // PostgreSQL fences off earlier holders from then on (postgres_positions.h); SQLite, kept by
  // one process, answers committed_offsets().
  virtual Result<std::map<log::Partition, log::Offset>> claim(
      const std::string& consumer, const std::vector<log::Partition>& partitions) {
    auto committed = committed_offsets(consumer);
    if (!committed) return committed.error();
    std::map<log::Partition, log::Offset> out;
    for (const auto& partition : partitions) {
      if (auto it = committed.value().find(partition); it != committed.value().end()) {
        out.insert(*it);
      }
    }
    return out;
  }
  // Per partition, the events retention deleted before `consumer` read them (batch.skipped,
  // summed); partitions without any are absent.
  virtual Result<std::map<log::Partition, std::uint64_t>> skipped(const std::string& consumer) = 0;
  // Stores the batch's events and sets `consumer`'s offset for the partition to
  // batch.next_offset, adding batch.skipped to its skipped count. Failures are kUnavailable:
  // the same batch is tried again.
  virtual Result<void> write(const std::string& consumer, const log::Partition& partition,
                             const log::ReadBatch& batch) = 0;
  // Counts the statistics of each of `streams` anew from its stored events when its
  // stats_fields differ from those they were counted by. The processor calls it at start, so
  // that a changed list is in effect before the next event arrives.
  virtual Result<void> prepare_statistics(const std::vector<std::string>& streams) = 0;
};

// The store `store` names (store.url, else the SQLite file `sqlite_path`), with each stream's
// stats_fields. The SQLite file is opened (and made) at once: throws if it cannot be; a
// PostgreSQL server is connected to on first use and again after a lost connection.
std::unique_ptr<StoreWriter> open_store_writer(
    const StoreConfig& store, const std::string& sqlite_path,
    std::map<std::string, std::vector<std::string>> stats_fields);

}  // namespace sluice::store
