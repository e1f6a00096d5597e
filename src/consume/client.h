#pragma once
// What a consumer of the log does with what it reads: the store writer, pipelines, window
// definitions and per-event alert rules are clients of the one consumer runtime (consumer.h),
// which reads the log by partition, keeps the positions, retries with backoff and reports.
// A client keeps only what is its own: where it committed last, what a batch becomes, and its
// periodic work (a checkpoint).

#include <map>
#include <optional>
#include <vector>

#include "core/result.h"
#include "log/log.h"

namespace sluice::consume {

using Positions = std::map<log::Partition, log::Offset>;

// What became of one partition's batch.
struct Handled {
  // Where the partition's next read begins: the batch's next_offset, or less when the client
  // took only part of it (a byte limit) or nothing (stopping); the rest is read again.
  log::Offset next = 0;
  bool full = false;  // more is waiting: the next pass begins at once
};

class Client {
 public:
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  virtual ~Client() = default;

  // On the caller's thread when the consumer starts: positions that must be taken then (a
  // pipeline that starts at `latest` starts at the end of the log as it is at start, not when
  // its thread gets there). nullopt: none, or not now (restore() tries again).
  virtual std::optional<Positions> prepare() { return std::nullopt; }
  // On the consumer's thread, at start and, with restore_after_failed_checkpoint, after a
  // failed checkpoint, and in a consumer group each time partitions are assigned: the client's
  // state as last committed, and the positions of `partitions` (the ones it reads from now on;
  // one it leaves out starts at 0). An error is retried with backoff.
  virtual Result<Positions> restore(const std::vector<log::Partition>& partitions) = 0;
  // In a consumer group, between passes: the partitions go to another process. The client
  // finishes with them (what it commits per batch is committed already) and forgets them.
  virtual void release(const std::vector<log::Partition>& /*partitions*/) {}
  // Once restored, before the first pass: the client's start line in the log.
  virtual void started() {}
  // Whether to read this pass (false: only after_pass runs, e.g. while outputs wait).
  virtual bool wants_records() { return true; }
  // One partition's new records read from `from` (or only a count of records retention
  // deleted before they were read: batch.skipped). An error retries the pass with backoff.
  virtual Result<Handled> handle(const log::Partition& partition, log::Offset from,
                                 const log::ReadBatch& batch) = 0;
  // A partition that had nothing new at `from`.
  virtual void nothing_new(const log::Partition& /*partition*/, log::Offset /*from*/) {}
  // After a pass that read (`read_any`: whether any partition had records).
  virtual void pass_done(bool /*read_any*/) {}
  // After every pass, and once more when stopping: periodic work such as a checkpoint. An
  // error is retried with backoff (after a restore, if the consumer is set to).
  virtual Result<void> after_pass(bool /*stopping*/) { return boost::outcome_v2::success(); }
  // When the thread ends, after the last after_pass.
  virtual void finish() {}
};

}  // namespace sluice::consume
