#pragma once
// The store in PostgreSQL (`store.url`), for API replicas that share it and for processes whose
// disk does not outlive them. The same tables as the SQLite store (docs/ARCHITECTURE.md), in
// the schema `store.schema`: events (payload as `json`, the text exactly as received),
// rollup_counts[_hourly], rollup_lag[_hourly], rollup_fields and sluice_positions.
//
// A batch goes in one transaction: its events are COPYed (binary) into a temporary table and
// inserted from there with ON CONFLICT (stream, id) DO NOTHING, so a repeated id is skipped;
// the ids really inserted are counted into the rollups (also COPYed, then added with
// ON CONFLICT … DO UPDATE), and the consumer offset is upserted. The server is connected to on
// first use and again after a lost connection; every failure rolls back and is retried.

#include <map>
#include <string>
#include <vector>

#include "store/pg_connection.h"
#include "store/positions.h"
#include "store/rollup.h"
#include "store/store_writer.h"

namespace sluice::store {

// Connects `conn` if it is not connected and makes the store's tables if missing (the
// processor's connection and the API's alike, so an API replica may start first).
Result<void> connect_store(pg::Connection& conn);

class PostgresStore : public StoreWriter {
 public:
  PostgresStore(std::string url, std::string schema,
                std::map<std::string, std::vector<std::string>> stats_fields);

  Result<std::map<log::Partition, log::Offset>> committed_offsets(
      const std::string& consumer) override;
  Result<std::map<log::Partition, log::Offset>> claim(
      const std::string& consumer, const std::vector<log::Partition>& partitions) override;
  Result<std::map<log::Partition, std::uint64_t>> skipped(const std::string& consumer) override;
  Result<void> write(const std::string& consumer, const log::Partition& partition,
                     const log::ReadBatch& batch) override;
  Result<void> prepare_statistics(const std::vector<std::string>& streams) override;

 private:
  // Connected, the tables made and this connection's temporary tables ready.
  Result<void> connect();
  Result<positions::Rows> positions_of(const std::string& consumer);
  Result<void> write_in_transaction(const std::string& consumer, const log::Partition& partition,
                                    const log::ReadBatch& batch);
  // Recounts a stream's rollups when its fields differ from those they were counted by.
  Result<void> check_rollup_fields(const std::string& stream);
  // Counts every stored event of the stream into its rollups (which must be empty).
  Result<void> recount(const std::string& stream);
  // Adds a batch's counts to the minute and hour rollups, and clears it.
  Result<void> add_rollup(const std::string& stream, RollupBatch& batch);
  // Copies the batch (ids unique within it) straight into the events table, in a savepoint:
  // false, and nothing written, when a row is refused (an id stored already).
  Result<bool> copy_new(const std::string& stream, const std::vector<EventView>& events);
  // Stages the batch and inserts the events whose id is not stored yet: their ids.
  Result<pg::ResultPtr> insert_unless_stored(const std::string& stream,
                                             const std::vector<EventView>& events);

  pg::Connection conn_;
  bool ready_ = false;  // the tables of this connection are made
  StreamRollups rollups_;
  RollupBatch rollup_batch_;
  std::string copy_buffer_;
  // The epoch claimed per consumer and partition: writes hold while it is the row's.
  std::map<std::pair<std::string, log::Partition>, std::string> epochs_;
};

}  // namespace sluice::store
