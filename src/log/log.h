#pragma once
// The Log: the durable, ordered record of every accepted event, per stream. The collector
// appends; consumers (the processor) read from any offset. An append's callback runs only after
// the batch is durable, and the collector answers 2xx only after that callback.
//
// A stream is split into partitions; an event goes to the partition its key (or, without a
// key, its id) hashes to, so the events of one key stay in order. Offsets count records per
// partition from 0.

#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "metrics/histogram.h"

namespace sluice::log {

using Offset = std::uint64_t;

// Encoded records on their way into the log, already framed so the log writer only has to write
// the bytes: [frame header][u32 record length][record]... (docs/specs/log_format.md). Built on
// the thread that parsed the request.
class RecordBatch {
 public:
  RecordBatch();
  // An empty batch with room for `bytes` bytes of records (one allocation, not two).
  explicit RecordBatch(std::size_t bytes);
  // Makes room for `bytes` more bytes of records, so adding them does not reallocate.
  void reserve(std::size_t bytes) { bytes_.reserve(bytes_.size() + bytes); }
  void add(const EventView& event, std::string_view payload_tail = {});
  // Fills the frame header (count, length, checksums). Call once, after the last add().
  void seal();
  // Sets the frame's base offset (and its header checksum); the log writer calls this.
  void stamp(Offset base_offset);
  std::uint32_t count() const { return count_; }
  const std::string& frame() const { return bytes_; }

 private:
  std::string bytes_;
  std::uint32_t count_ = 0;
};

// A partition of a stream. Converts from a stream name alone, meaning partition 0.
struct Partition {
  Partition(std::string stream_name, std::uint32_t partition_index = 0)  // NOLINT: implicit
      : stream(std::move(stream_name)), index(partition_index) {}
  Partition(const char* stream_name) : Partition(std::string(stream_name)) {}  // NOLINT
  std::string stream;
  std::uint32_t index;
  auto operator<=>(const Partition&) const = default;
};

// The kNotFound error for a stream or partition the log does not have.
Error unknown_partition(const Partition& partition);

// The partition of an event: the XXH3 64-bit hash of its key (or id) modulo the partition
// count. Stable across versions and machines; changing a stream's partition count moves keys.
std::uint32_t partition_for(std::string_view key, std::uint32_t partitions);

struct StoredRecord {
  Offset offset;
  std::string_view bytes;  // an encoded event: decode_event()
};

struct ReadBatch {
  std::deque<std::string> buffers;  // own the bytes the records point into
  std::vector<StoredRecord> records;
  Offset next_offset = 0;  // where the next read continues
  // Records between the offset asked for and the first one read that the reader skipped:
  // deleted by retention (embedded log, log.retention_policy drop_oldest) or unreadable (Kafka:
  // another producer's record that is not an event).
  std::uint64_t skipped = 0;
};

// Counters since the log was opened; /metrics exports them (docs/http-api.md).
struct LogStats {
  std::uint64_t appends = 0;           // batches made durable
  std::uint64_t failed_appends = 0;    // batches refused: a write, sync or delivery failed
  std::uint64_t bytes = 0;             // bytes made durable
  std::uint64_t syncs = 0;             // embedded: fdatasync calls (one per file per group)
  std::uint64_t corrupt_regions = 0;   // embedded: damaged stretches skipped at open
  std::uint64_t segments_deleted = 0;  // embedded: by retention
  std::uint64_t in_flight = 0;         // kafka: events waiting for the brokers
  // embedded: records consumers found deleted by retention before they read them, by consumer
  std::map<std::string, std::uint64_t> skipped;
  // kafka: records in a stream's topic that are not events (another producer's text that is not
  // a JSON object, a malformed envelope), skipped by every reader; by stream
  std::map<std::string, std::uint64_t> unreadable;
  metrics::HistogramSnapshot sync_seconds;  // embedded: write + fdatasync of a group to a file
  std::string failing;  // why appends fail now (the last error); empty while they succeed
};

// A member of a consumer group whose partitions the log's group protocol shares out (Kafka:
// the group coordinator, cooperative-sticky assignment): each partition of the group's streams
// is read by one member at a time. Used from one thread.
class GroupMember {
 public:
  // Told what changed, on the thread that calls poll().
  class Listener {
   public:
    virtual ~Listener() = default;
    // The partitions are this member's from now on.
    virtual void assigned(const std::vector<Partition>& partitions) = 0;
    // The partitions go to another member once this returns: finish with them (checkpoint,
    // commit) before returning.
    virtual void revoked(const std::vector<Partition>& partitions) = 0;
  };

  virtual ~GroupMember() = default;
  // Serves the group protocol and tells `listener` of assignments and revocations. Call at
  // least every few seconds (log.kafka.max_poll_interval bounds it): a member that does not is
  // put out of the group and its partitions revoked.
  virtual void poll(Listener& listener) = 0;
  // The partition's position as this member sees it, committed to the group soon (within a
  // second, and at once when the partition is revoked) but never while the group rebalances:
  // the group's lag as the brokers see it (an autoscaler reads it there).
  virtual void commit(const Partition& partition, Offset next_offset) = 0;
  // This member's id in the group (empty until it has joined).
  virtual std::string id() const = 0;
  // Leaves the group: partitions still held are revoked through `listener` first.
  virtual void leave(Listener& listener) = 0;
};

class Log {
 public:
  using AppendDone = std::function<void(Result<Offset> first_offset)>;

  virtual ~Log() = default;

  // Thread-safe. `done` runs on a log thread once the batch is durable, or with kNotFound
  // (unknown stream or partition) or kUnavailable (the write or sync failed; nothing of the
  // batch is kept).
  virtual void append(const Partition& partition, RecordBatch batch, AppendDone done) = 0;

  // Thread-safe. Up to `max_records` durable records of the partition from offset `from`.
  virtual Result<ReadBatch> read(const Partition& partition, Offset from,
                                 std::size_t max_records) = 0;

  // The offset the next appended record of the partition will get.
  virtual Offset end_offset(const Partition& partition) const = 0;

  virtual std::vector<std::string> streams() const = 0;
  // "embedded" or "kafka".
  virtual const char* backend() const = 0;
  // Thread-safe.
  virtual LogStats stats() const = 0;
  // How many partitions `stream` has (0 for an unknown stream).
  virtual std::uint32_t partitions(const std::string& stream) const = 0;

  // Consumer groups. A group's committed offset of a partition is the next offset it will
  // process; it is stored durably before commit() returns. Group names use 1 to 64 letters,
  // digits, '_', '-', '.'. Thread-safe.
  virtual Result<void> commit(const std::string& group, const Partition& partition,
                              Offset next_offset) = 0;
  // The committed offset, or nullopt if the group never committed on this partition.
  virtual Result<std::optional<Offset>> committed(const std::string& group,
                                                  const Partition& partition) const = 0;

  // Joins the consumer group `group` for the partitions of `streams`; nullptr when the log has
  // no group protocol (embedded: one process reads every partition). Commits to the group
  // (commit()) go through the member from then on. Thread-safe.
  virtual std::unique_ptr<GroupMember> join(const std::string& /*group*/,
                                            const std::vector<std::string>& /*streams*/) {
    return nullptr;
  }

  // Retention. `consumer` still needs the partition's records from `from` on; under
  // log.retention_policy protect the embedded log keeps them (and refuses appends once the
  // partition is at retention_bytes) until the consumer holds a later offset. A consumer holds
  // each partition it reads from 0 when it is made, then its committed position. Kafka: the
  // brokers' retention applies, this does nothing. Thread-safe.
  virtual void hold(const std::string& /*consumer*/, const Partition& /*partition*/,
                    Offset /*from*/) {}
  // `consumer` is gone (removed by a reload): it holds nothing any more. Thread-safe.
  virtual void release(const std::string& /*consumer*/) {}
  // `consumer` found `count` records of the partition from `from` on deleted by retention
  // (ReadBatch::skipped): counted in LogStats::skipped and logged. Thread-safe.
  virtual void report_skipped(const std::string& /*consumer*/, const Partition& /*partition*/,
                              Offset /*from*/, std::uint64_t /*count*/) {}

  // Called on a log thread each time new records became durable. Set before appending.
  virtual void set_on_durable(std::function<void()> callback) = 0;

  // Finishes the appends already queued, then refuses new ones (kUnavailable). Reads keep
  // working. Called at shutdown, before the consumers stop; the destructor calls it too.
  virtual void close() = 0;
};

// Appends one batch per partition of `stream` (empty batches are skipped) and calls `done` once,
// after all are durable, or with the first error. Thread-safe; `done` runs on a log thread (or
// at once when every batch is empty).
// Events in the log past `positions` (each partition's next offset to read), summed.
inline std::uint64_t lag(const Log& log, const std::map<Partition, Offset>& positions) {
  std::uint64_t total = 0;
  for (const auto& [partition, position] : positions) {
    const Offset end = log.end_offset(partition);
    total += end > position ? end - position : 0;
  }
  return total;
}

// The partition whose batch holds the events when only one does (every single-event request),
// else nullopt.
std::optional<std::uint32_t> only_partition(const std::vector<RecordBatch>& batches);

void append_partitions(Log& log, const std::string& stream, std::vector<RecordBatch> batches,
                       std::function<void(Result<void>)> done);

}  // namespace sluice::log
