#pragma once
// One segment: an append-only file of frames (docs/specs/log_format.md) whose first record has
// offset `base_offset`. Recovery when opened, a sparse in-memory index, durable appends, and
// reads from any offset.
//
// Recovery: a frame that is incomplete or fails a checksum at the end of the file is a torn
// write from a crash; it is saved beside the file and cut off. One followed by valid frames is
// corruption (a disk error): it is reported, counted, and skipped; the records in it are lost,
// the ones after it stay readable with their own offsets.
//
// Reserve: appends of small groups (single events, one sync each) keep a zero-filled stretch
// of up to kReserveBytes past the last frame, so that the sync of each such append rewrites
// bytes inside the file and does not have to persist a new file size (on ext4 that halves an
// fdatasync: one device write instead of two). Zeros are never a valid frame: recovery
// recognises a zero tail as reserve and keeps it. Large groups are written without one (zeroing
// would double their bytes for little gain).
//
// Threads: append() and trim_reserve() are called by the log writer only; read() and the
// accessors from any thread.

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "log/embedded/file_io.h"
#include "log/log.h"
#include "log/log_format.h"

namespace sluice::log {

class LogFile {
 public:
  // Bytes between sparse index entries: a read starts at most this far before its offset.
  static constexpr std::uint64_t kIndexInterval = 64ULL * 1024;

  // Opens or creates the file and recovers it. Throws std::runtime_error if it cannot be read.
  LogFile(FileIo& io, std::string path, std::string stream, Offset base_offset = 0);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // A group of at most this many bytes keeps a reserve; the reserve is this long.
  static constexpr std::uint64_t kReserveGroupBytes = 64ULL * 1024;
  static constexpr std::uint64_t kReserveBytes = 1ULL << 20;

  // Stamps `frames` with consecutive base offsets, writes them with one pwritev and makes them
  // durable with one fdatasync. A reserve never reaches past `reserve_limit` (where the segment
  // will be rolled). Returns the first offset, or the error text after cutting the file back
  // (nothing of the frames is kept).
  Result<Offset> append(const std::vector<RecordBatch*>& frames, std::uint64_t reserve_limit);
  // Cuts the reserve off (a segment that takes no more appends). Returns false on an error.
  bool trim_reserve();

  Result<ReadBatch> read(Offset from, std::size_t max_records) const;
  // As read(), but appends up to `max_records` more records (and their buffers) to `out` and
  // advances out.next_offset.
  Result<void> read_into(Offset from, std::size_t max_records, ReadBatch& out) const;
  Offset end_offset() const;
  Offset base_offset() const { return base_offset_; }
  // Bytes of durable frames.
  std::uint64_t size() const;
  std::uint64_t corrupt_regions() const { return corrupt_regions_.load(); }
  const std::string& path() const { return path_; }

 private:
  struct IndexEntry {
    Offset base;
    std::uint64_t position;
  };

  void recover(std::uint64_t size);
  // The end of the last byte in [from, to) that is not zero; `from` if they all are. Throws on
  // a read error.
  std::uint64_t data_end(std::uint64_t from, std::uint64_t to) const;
  // The first position at or after `from` where a complete, valid frame with a base offset of
  // at least `min_base` starts, or nullopt.
  std::optional<std::uint64_t> find_next_frame(std::uint64_t from, std::uint64_t size,
                                               Offset min_base) const;
  // Reads and checks a whole frame at `position`; nullopt if there is none.
  std::optional<FrameHeader> valid_frame_at(std::uint64_t position, std::uint64_t size) const;
  // Writer thread or constructor only; takes the lock.
  void publish(Offset base, std::uint32_t count, std::uint64_t position, std::uint64_t end,
               bool force_index);

  FileIo& io_;
  const std::string path_;
  const std::string stream_;
  const Offset base_offset_;
  int fd_ = -1;
  std::atomic<std::uint64_t> corrupt_regions_{0};
  std::uint64_t file_bytes_ = 0;  // the file's size, durable frames and reserve

  mutable std::mutex mutex_;  // guards everything below
  std::vector<IndexEntry> index_;
  std::map<std::uint64_t, std::uint64_t> gaps_;  // corrupt byte ranges [first, second)
  Offset end_offset_ = 0;
  std::uint64_t durable_size_ = 0;
  std::uint64_t last_indexed_ = 0;
};

}  // namespace sluice::log
