#pragma once
// The sink contract (docs/pipelines.md): a sink is handed batches of events and answers, for the
// whole batch, delivered, retry after a delay, or rejected with a reason. The pipeline retries
// (with backoff), splits a rejected batch until the events at fault are alone, and moves those
// to its dead-letter stream; a sink never drops events on its own.
//
// Transactional sinks (SQL databases) store the pipeline's log positions in the same
// transaction as the rows and report them back at start, so a replay after a crash writes
// nothing twice. Others are at-least-once: the pipeline commits its positions to the log after
// every sink has delivered.
//
// A sink is used by one pipeline thread at a time.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "log/log.h"

namespace sluice::pipeline {

// One event as a sink receives it: where it came from and its (possibly transformed) payload.
struct SinkRecord {
  std::string_view stream;
  std::uint32_t partition = 0;
  log::Offset offset = 0;
  EventView event;  // event.payload is the payload after the pipeline's steps
};

using Positions = std::map<log::Partition, log::Offset>;  // next offset to read, per partition

// A sink that keeps the pipeline's positions with its rows names them "pipeline.<name>", so
// pipelines and the store writer may share one positions table (store/positions.h).
inline constexpr const char* kConsumerPrefix = "pipeline.";

struct SinkBatch {
  std::string consumer;  // whose positions these are: kConsumerPrefix + the pipeline's name
  std::vector<SinkRecord> records;
  Positions next;  // the pipeline's positions once this batch is delivered
};

struct WriteOutcome {
  enum class Status { kDelivered, kRetry, kRejected };
  Status status = Status::kDelivered;
  std::chrono::milliseconds retry_after{0};  // kRetry: the sink's hint (Retry-After); 0: none
  std::string reason;                        // kRetry, kRejected
  // kRejected: the fault lies in some events of the batch (a value the database refuses), so
  // the pipeline splits the batch to find them and delivers the others; false when the sink
  // would refuse any batch (a webhook answering 403), and the whole batch is dead-lettered.
  bool split = true;
  // kRetry: another process has claimed the batch's partitions since this one did (a consumer
  // group rebalance; claim()). Retrying here cannot succeed: the pipeline gives the partitions
  // up instead.
  bool fenced = false;

  static WriteOutcome delivered() { return {}; }
  static WriteOutcome fenced_off(std::string reason) {
    return {Status::kRetry, {}, std::move(reason), true, true};
  }
  static WriteOutcome retry(std::string reason, std::chrono::milliseconds after = {}) {
    return {Status::kRetry, after, std::move(reason)};
  }
  static WriteOutcome rejected(std::string reason) {
    return {Status::kRejected, {}, std::move(reason)};
  }
  static WriteOutcome rejected_whole(std::string reason) {
    return {Status::kRejected, {}, std::move(reason), false};
  }
  // By the error's fault: the events at fault are found and dead-lettered (kData); anything
  // else is retried, however long it takes someone to fix it (kPermanent).
  static WriteOutcome failed(const Error& error) {
    return error.fault == Fault::kData ? rejected(error.message) : retry(error.message);
  }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual WriteOutcome write(const SinkBatch& batch) = 0;
  // Transactional sinks: the positions stored with the rows for `consumer` (empty if none yet).
  // Others: nullopt.
  virtual Result<std::optional<Positions>> stored_positions(const std::string& /*consumer*/) {
    return std::optional<Positions>{};
  }
  // When the pipeline takes `partitions` over (at start, or from its consumer group): their
  // stored positions, as stored_positions(). A sink that can, fences earlier holders off from
  // then on: a process that lost the partitions but still writes has its batch refused
  // (PostgreSQL: store/postgres_positions.h).
  virtual Result<std::optional<Positions>> claim(
      const std::string& consumer, const std::vector<log::Partition>& /*partitions*/) {
    return stored_positions(consumer);
  }
  virtual bool transactional() const { return false; }
};

// What a sink may need from its surroundings when it is opened.
struct SinkContext {
  std::string name;      // sinks.<name>
  std::string data_dir;  // storage.data_dir: relative paths resolve against it
  log::Log* log = nullptr;
  // The pipeline's `upsert`: a row whose (stream, id) is already stored is replaced by the
  // newer event rather than kept (SQL sinks; window results, whose id is window + key + start).
  bool upsert = false;
};

}  // namespace sluice::pipeline
