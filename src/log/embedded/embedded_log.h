#pragma once
// The embedded log: one append-only file of checksummed frames per stream under
// <data_dir>/log/ (log_file.h, docs/specs/log_format.md). One writer thread performs every
// write: requests that arrive while a write+fdatasync is in progress are gathered into the next
// one (group commit), so many requests share one sync and no I/O thread blocks on the disk.
// Readers see only frames whose sync completed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "config/config.h"
#include "log/embedded/file_io.h"
#include "log/embedded/log_file.h"
#include "log/log.h"

namespace sluice::log {

class EmbeddedLog final : public Log {
 public:
  // Opens (creating if needed) the files of `streams` in `dir`. Throws std::runtime_error when a
  // file cannot be opened or recovered; the process cannot run without its log.
  EmbeddedLog(const std::string& dir, const std::vector<std::string>& streams,
              const LogConfig& config, FileIo& io = FileIo::posix());
  ~EmbeddedLog() override;

  void append(const std::string& stream, RecordBatch batch, AppendDone done) override;
  Result<ReadBatch> read(const std::string& stream, Offset from, std::size_t max_records) override;
  Offset end_offset(const std::string& stream) const override;
  std::vector<std::string> streams() const override;
  void set_on_durable(std::function<void()> callback) override;
  void close() override;

  // Counters since open, for benchmarks and (later) metrics. Thread-safe.
  struct Stats {
    std::uint64_t appends = 0;          // batches made durable
    std::uint64_t syncs = 0;            // fdatasync calls (one per file per group commit)
    std::uint64_t bytes = 0;            // frame bytes written
    std::uint64_t failed_appends = 0;   // batches refused because a write or sync failed
    std::uint64_t corrupt_regions = 0;  // damaged stretches skipped when the files were opened
  };
  Stats stats() const;

 private:
  struct Pending {
    LogFile* file;
    RecordBatch batch;
    AppendDone done;
  };

  void writer_loop();
  void write_group(std::vector<Pending>& group);
  void report_failure(const std::string& path, const std::string& error);

  FileIo& io_;
  std::map<std::string, std::unique_ptr<LogFile>, std::less<>> files_;
  std::uint64_t group_commit_max_bytes_;
  std::function<void()> on_durable_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> appends_{0}, syncs_{0}, bytes_{0}, failed_appends_{0};
  // Failure reporting state; writer thread only.
  bool failing_ = false;
  std::uint64_t failures_unreported_ = 0;
  std::chrono::steady_clock::time_point last_failure_report_{};
  std::thread writer_;
};

}  // namespace sluice::log
