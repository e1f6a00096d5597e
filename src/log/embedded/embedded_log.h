#pragma once
// The embedded log: per partition of each stream, a directory of segment files of checksummed
// frames, <data_dir>/log/<stream>/<partition>/<base offset>.log (partition_log.h, log_file.h,
// docs/specs/log_format.md). One writer thread performs every write: requests that arrive
// while a write+fdatasync is in progress are gathered into the next one (group commit), so many
// requests share one sync and no I/O thread blocks on the disk. A group that spans several
// partition files writes and syncs them at once (parallel_runner.h). A second thread answers the
// appends of a finished group, so the next write starts at once. Readers see only frames whose
// sync completed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "log/embedded/dir_lock.h"
#include "log/embedded/file_io.h"
#include "log/embedded/parallel_runner.h"
#include "log/embedded/partition_log.h"
#include "log/embedded/retention_holds.h"
#include "log/failure_reporter.h"
#include "log/log.h"
#include "log/log_settings.h"

namespace sluice::log {

struct StreamSpec {
  StreamSpec(std::string stream_name, std::uint32_t partition_count = 1)  // NOLINT: implicit
      : name(std::move(stream_name)), partitions(partition_count) {}
  StreamSpec(const char* stream_name) : StreamSpec(std::string(stream_name)) {}  // NOLINT
  std::string name;
  std::uint32_t partitions;
  std::string topic;  // Kafka: the stream's topic when it is not log.kafka.topic_prefix + name
};

class EmbeddedLog final : public Log {
 public:
  // At most this many partition files are written and synced at once.
  static constexpr std::size_t kMaxParallelFiles = 8;

  // Opens (creating if needed) the files of `streams` in `dir`. Throws std::runtime_error when a
  // file cannot be opened or recovered, or when a stream has fewer partitions than on disk; the
  // process cannot run without its log.
  EmbeddedLog(const std::string& dir, const std::vector<StreamSpec>& streams,
              const LogConfig& config, FileIo& io = FileIo::posix());
  ~EmbeddedLog() override;

  void append(const Partition& partition, RecordBatch batch, AppendDone done) override;
  Result<ReadBatch> read(const Partition& partition, Offset from, std::size_t max_records) override;
  Offset end_offset(const Partition& partition) const override;
  std::vector<std::string> streams() const override;
  std::uint32_t partitions(const std::string& stream) const override;

  // The directory of a partition: <dir>/<stream>/<partition>.
  static std::string partition_dir(const std::string& dir, const Partition& partition);
  // The partition's log, for inspection (tests, tools); nullptr if unknown.
  const PartitionLog* partition_log(const Partition& partition) const;
  Result<void> commit(const std::string& group, const Partition& partition,
                      Offset next_offset) override;
  Result<std::optional<Offset>> committed(const std::string& group,
                                          const Partition& partition) const override;
  void set_on_durable(std::function<void()> callback) override;
  void close() override;
  void hold(const std::string& consumer, const Partition& partition, Offset from) override;
  void release(const std::string& consumer) override { holds_.release(consumer); }
  void report_skipped(const std::string& consumer, const Partition& partition, Offset from,
                      std::uint64_t count) override;

  const char* backend() const override { return "embedded"; }
  LogStats stats() const override;

 private:
  DirectoryLock lock_;  // first: held before any file is opened, released after all
  struct Pending {
    PartitionLog* file;
    RecordBatch batch;
    AppendDone done;
  };

  struct Completion {
    AppendDone done;
    Result<Offset> result;
  };

  void writer_loop();
  void completion_loop();
  // One file's part of a group: its appends, and their answers once written.
  struct FileWrite {
    PartitionLog* file;
    const std::vector<Pending*>* items;
    std::vector<Completion> completions;
    bool durable;
  };

  void write_group(std::vector<Pending>& group);
  void write_file(FileWrite& w);  // on the writer or one of file_writers_' helpers
  void enforce_retention();

  FileIo& io_;
  RetentionHolds holds_;  // what consumers still need (log.retention_policy protect)
  std::map<Partition, std::unique_ptr<PartitionLog>> files_;
  std::map<std::string, std::uint32_t> partition_counts_;
  // Writes the files of one group at once; its helpers start when a group spans several files.
  ParallelRunner file_writers_{kMaxParallelFiles - 1, "sluice-log-wr"};
  std::uint64_t group_commit_max_bytes_;
  std::chrono::microseconds group_commit_max_wait_;
  std::function<void()> on_durable_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  std::uint64_t queued_bytes_ = 0;  // frame bytes in queue_
  bool stopping_ = false;
  bool writer_idle_ = false;        // the writer waits for a first append
  bool writer_collecting_ = false;  // the writer holds a group open (group_commit_max_wait)
  std::atomic<std::uint64_t> appends_{0}, syncs_{0}, bytes_{0}, failed_appends_{0},
      segments_deleted_{0};
  FailureReporter failures_;
  mutable std::mutex skipped_mutex_;
  std::map<std::string, std::uint64_t> skipped_;  // by consumer
  metrics::Histogram sync_latency_;
  // Answers to appends, run by the completion thread.
  std::mutex completion_mutex_;
  std::condition_variable completion_cv_;
  std::vector<Completion> completions_;
  bool notify_durable_ = false;
  bool completion_stop_ = false;
  std::thread completer_;
  std::thread writer_;
};

}  // namespace sluice::log
