#pragma once
// One partition of a stream: a directory of segments, <dir>/<20-digit base offset>.log, each a
// LogFile. Appends go to the newest segment; when it has reached log.segment_bytes a new one
// is started first (and the directory fsync'd). Retention deletes whole segments, oldest first,
// while the partition is over log.retention_bytes or a segment's newest data is older than
// log.retention_age; the newest segment is never deleted. Under log.retention_policy protect
// (with `holds`), a segment some consumer still needs is kept, and once the partition is at
// retention_bytes appends are refused (kUnavailable) until that consumer moves on. Under
// drop_oldest a consumer whose offset was deleted continues at the oldest offset still kept,
// and the read says how many records it skipped (ReadBatch::skipped).
//
// Threads: append() and enforce_retention() on the log writer only; the rest from any thread.
// A read keeps the segments it reads alive even if retention deletes them meanwhile.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "log/embedded/log_file.h"
#include "log/embedded/retention_holds.h"
#include "log/log_settings.h"

namespace sluice::log {

class PartitionLog {
 public:
  // Opens (creating if needed) the partition directory and recovers every segment. Throws
  // std::runtime_error when that fails.
  // `holds`: what consumers still need (log.retention_policy protect), or nullptr (drop_oldest).
  PartitionLog(FileIo& io, std::string dir, Partition partition, const LogConfig& config,
               const RetentionHolds* holds = nullptr);

  Result<Offset> append(const std::vector<RecordBatch*>& frames);
  // Deletes segments past the retention limits; returns how many were deleted.
  std::size_t enforce_retention();

  Result<ReadBatch> read(Offset from, std::size_t max_records) const;

  // Consumer group offsets, in <dir>/consumers/<group>.offset, replaced atomically (write a
  // temporary file, fsync it, rename it over the old one, fsync the directory).
  Result<void> commit(const std::string& group, Offset next_offset);
  Result<std::optional<Offset>> committed(const std::string& group) const;
  Offset start_offset() const;
  Offset end_offset() const;
  std::uint64_t size_bytes() const;
  std::size_t segment_count() const;
  std::uint64_t corrupt_regions() const;
  const std::string& dir() const { return dir_; }

  static std::string segment_name(Offset base_offset);

 private:
  std::shared_ptr<LogFile> active() const;
  void roll(Offset base_offset);
  // Why `incoming` more bytes would take the partition past retention_bytes while its oldest
  // segment is still needed; nullopt when they may be written.
  std::optional<std::string> over_budget(std::uint64_t incoming) const;

  FileIo& io_;
  const std::string dir_;
  const Partition partition_;
  const std::string name_;  // "stream/partition", for messages
  const std::uint64_t segment_bytes_;
  const std::uint64_t retention_bytes_;            // 0: no limit
  const std::chrono::milliseconds retention_age_;  // 0: no limit
  const RetentionHolds* const holds_;              // nullptr: drop_oldest

  mutable std::mutex commit_mutex_;                      // one commit at a time per partition
  mutable std::mutex mutex_;                             // guards segments_
  std::map<Offset, std::shared_ptr<LogFile>> segments_;  // by base offset
};

}  // namespace sluice::log
