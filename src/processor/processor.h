#pragma once
// The processor: a thread that follows the log and writes every partition's new events to the
// store (SQLite or PostgreSQL), in batches of up to store.batch_max_events, each batch in one
// transaction with the consumer offset. It wakes when the log reports new durable records; when
// the store fails (disk full, locked, server away) it logs, backs off and retries the same
// batch, so nothing is skipped. A batch the store refuses for what it holds (kInvalidInput: a
// value no column can take) is split in halves until the events at fault are alone; each goes
// to its stream's dead-letter stream with the store's reason, and the rest are stored. The
// committed offsets are read in the thread too, retried the same way, so a store that is not
// reachable yet does not stop the process starting. The processor holds what it has not stored
// in the log (log.retention_policy protect); under drop_oldest, events retention deleted before
// it read them are counted in the store with the offsets, so `stored` stays what it holds.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "config/config.h"
#include "consume/consumer.h"
#include "log/log.h"
#include "store/positions.h"
#include "store/store_writer.h"

namespace sluice {

class Processor : private consume::Client {
 public:
  // The consumer name under which positions are committed in the store.
  static constexpr const char* kConsumer = store::positions::kStoreConsumer;

  // `dead_letters`: each stream's dead-letter stream, for the events the store refuses (a
  // stream without one logs and skips them).
  Processor(log::Log& log, const StoreConfig& config, std::unique_ptr<store::StoreWriter> store,
            std::map<std::string, StreamConfig> dead_letters = {});
  ~Processor() override;  // stops the thread after the batch in progress

  void start() { consumer_.start(); }
  // Wakes the processor: new records are durable. Callable from any thread.
  void notify() { consumer_.notify(); }
  // Events stored so far, per partition, as the next log offset to read (0 until the store's
  // offsets are read).
  std::map<log::Partition, log::Offset> positions() const;
  // Events the store holds or refused, per partition: the position less the events retention
  // deleted before the processor read them.
  std::map<log::Partition, std::uint64_t> stored() const;
  // Events the store refused and that went to the dead letters, since the start.
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Why the last write to the store failed while it is being retried; empty while writes work.
  std::string failing() const;
  // Whether the store's statistics are counted by the configured stats_fields: false at start
  // until a changed list has been recounted (GET /v1/stats answers 503 meanwhile).
  bool statistics_ready() const { return statistics_ready_.load(); }

 private:
  Result<consume::Positions> restore(const std::vector<log::Partition>& partitions) override;
  Result<consume::Handled> handle(const log::Partition& partition, log::Offset from,
                                  const log::ReadBatch& batch) override;
  // Writes `batch`; on a refusal for its content, halves it until the events at fault are
  // alone and dead-letters them.
  Result<void> write_isolating(const log::Partition& partition, const log::ReadBatch& batch);
  Result<void> dead_letter(const log::Partition& partition, const log::StoredRecord& record,
                           const std::string& reason);

  log::Log& log_;
  std::unique_ptr<store::StoreWriter> store_;
  std::map<std::string, StreamConfig> dead_letters_;  // by source stream
  std::size_t batch_max_events_;
  std::atomic<bool> statistics_ready_{false};
  std::atomic<std::uint64_t> refused_{0};
  mutable std::mutex mutex_;
  std::map<log::Partition, std::uint64_t> skipped_;  // deleted by retention before read
  consume::Consumer consumer_;                       // last: its thread stops before the rest goes
};

}  // namespace sluice
