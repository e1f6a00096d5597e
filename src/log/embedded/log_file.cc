#include "log/embedded/log_file.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/bytes.h"
#include "core/logging.h"
#include "log/log_format.h"

namespace sluice::log {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

// A window of the file held in memory while reading or scanning.
class Window {
 public:
  Window(FileIo& io, int fd) : io_(io), fd_(fd) {}

  // Makes [position, position + size) available, reading at least `chunk` bytes (but never past
  // `limit`) when it is not. Returns a view of it, or an empty view on a read error.
  std::string_view get(std::string& buffer, std::uint64_t& buffer_start, std::uint64_t position,
                       std::size_t size, std::uint64_t limit, std::size_t chunk) {
    if (!buffer.empty() && position >= buffer_start &&
        position + size <= buffer_start + buffer.size()) {
      return std::string_view(buffer).substr(position - buffer_start, size);
    }
    const auto length =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(size, chunk), limit - position));
    if (length < size) return {};
    buffer.resize(length);
    if (!pread_all(io_, fd_, buffer.data(), length, position)) return {};
    buffer_start = position;
    return std::string_view(buffer).substr(0, size);
  }

 private:
  FileIo& io_;
  int fd_;
};

}  // namespace

LogFile::LogFile(FileIo& io, std::string path, std::string stream, Offset base_offset)
    : io_(io), path_(std::move(path)), stream_(std::move(stream)), base_offset_(base_offset) {
  fd_ = io_.open(path_, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + errno_text());
  std::uint64_t size = 0;
  if (io_.file_size(fd_, size) != 0) {
    throw std::runtime_error("cannot stat " + path_ + ": " + errno_text());
  }
  end_offset_ = base_offset_;
  recover(size);
}

LogFile::~LogFile() {
  io_.close(fd_);
}

std::optional<FrameHeader> LogFile::valid_frame_at(std::uint64_t position,
                                                   std::uint64_t size) const {
  if (size - position < kFrameHeaderSize) return std::nullopt;
  char header_bytes[kFrameHeaderSize];
  if (!pread_all(io_, fd_, header_bytes, kFrameHeaderSize, position)) return std::nullopt;
  auto header = parse_frame_header(std::string_view(header_bytes, kFrameHeaderSize));
  if (!header || header->body_length > size - position - kFrameHeaderSize) return std::nullopt;
  std::string body(header->body_length, '\0');
  if (!pread_all(io_, fd_, body.data(), body.size(), position + kFrameHeaderSize)) {
    return std::nullopt;
  }
  if (!walk_frame_body(*header, body, [](std::string_view) {})) return std::nullopt;
  return header;
}

std::optional<std::uint64_t> LogFile::find_next_frame(std::uint64_t from, std::uint64_t size,
                                                      Offset min_base) const {
  char magic[4];
  store_le<std::uint32_t>(magic, kFrameMagic);
  std::string chunk;
  for (std::uint64_t start = from; start < size; start += kReadChunk) {
    // Overlap chunks by 3 bytes so a magic number split between two is still found.
    const auto length =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk + 3, size - start));
    chunk.resize(length);
    if (!pread_all(io_, fd_, chunk.data(), length, start)) return std::nullopt;
    for (std::size_t at = 0; at + 4 <= length && at < kReadChunk; ++at) {
      const void* hit = std::memchr(chunk.data() + at, magic[0], length - at);
      if (!hit) break;
      at = static_cast<std::size_t>(static_cast<const char*>(hit) - chunk.data());
      if (at + 4 > length || at >= kReadChunk || std::memcmp(chunk.data() + at, magic, 4) != 0) {
        continue;
      }
      auto header = valid_frame_at(start + at, size);
      if (header && header->base_offset >= min_base) return start + at;
    }
  }
  return std::nullopt;
}

void LogFile::publish(Offset base, std::uint32_t count, std::uint64_t position, std::uint64_t end,
                      bool force_index) {
  std::lock_guard lock(mutex_);
  if (index_.empty() || force_index || position - last_indexed_ >= kIndexInterval) {
    index_.push_back({base, position});
    last_indexed_ = position;
  }
  end_offset_ = base + count;
  durable_size_ = end;
}

std::uint64_t LogFile::data_end(std::uint64_t from, std::uint64_t to) const {
  std::string chunk;
  while (to > from) {
    const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, to - from));
    chunk.resize(length);
    if (!pread_all(io_, fd_, chunk.data(), length, to - length)) {
      throw std::runtime_error("cannot read " + path_ + ": " + errno_text());
    }
    const auto last = chunk.find_last_not_of('\0');
    if (last != std::string::npos) return to - length + last + 1;
    to -= length;
  }
  return from;
}

void LogFile::recover(std::uint64_t size) {
  auto log = logger("log");
  std::uint64_t position = 0;
  Offset expected = base_offset_;
  bool after_gap = false;
  file_bytes_ = size;
  while (position < size) {
    auto header = valid_frame_at(position, size);
    if (header && header->base_offset >= expected) {
      const std::uint64_t end = position + kFrameHeaderSize + header->body_length;
      publish(header->base_offset, header->count, position, end, after_gap);
      expected = header->base_offset + header->count;
      position = end;
      after_gap = false;
      continue;
    }
    // Zeros to the end: the reserve (no frame starts with a zero byte).
    const std::uint64_t last_data = data_end(position, size);
    if (last_data == position) break;
    auto next = find_next_frame(position + 1, size, expected);
    if (!next) {
      // Nothing valid follows: the tail of an interrupted write. It was never acknowledged, but
      // keep the bytes in case a disk error, not a crash, damaged them (without the reserve's
      // zeros after them).
      const std::string saved = path_ + ".cut-" + std::to_string(position);
      save_range(io_, fd_, position, last_data, saved);
      log->warn("recovery stream={} file={} truncated_bytes={} at={} reason=\"{}\" saved_to={}",
                stream_, path_, size - position, position,
                header ? "frame out of order" : "incomplete frame or checksum mismatch", saved);
      if (io_.ftruncate(fd_, static_cast<off_t>(position)) != 0 || io_.fdatasync(fd_) != 0) {
        throw std::runtime_error("cannot truncate " + path_ + ": " + errno_text());
      }
      file_bytes_ = position;
      break;
    }
    auto resumed = parse_frame_header([&] {
      std::string bytes(kFrameHeaderSize, '\0');
      pread_all(io_, fd_, bytes.data(), bytes.size(), *next);
      return bytes;
    }());
    ++corrupt_regions_;
    log->error(
        "corrupt log data stream={} file={} bytes={}..{} lost_offsets={}..{}: skipped; "
        "the records after it remain readable",
        stream_, path_, position, *next, expected,
        resumed && resumed->base_offset > expected ? resumed->base_offset - 1 : expected);
    {
      std::lock_guard lock(mutex_);
      gaps_[position] = *next;
    }
    position = *next;
    after_gap = true;
  }
  std::lock_guard lock(mutex_);
  durable_size_ = position;
  log->info("opened stream={} file={} events={} bytes={} reserve_bytes={}", stream_, path_,
            end_offset_, position, file_bytes_ - position);
}

Result<Offset> LogFile::append(const std::vector<RecordBatch*>& frames,
                               std::uint64_t reserve_limit) {
  static const std::string kZeros(std::size_t{64} * 1024, '\0');
  Offset base;
  std::uint64_t start;
  {
    std::lock_guard lock(mutex_);
    base = end_offset_;
    start = durable_size_;
  }
  std::vector<iovec> iov;
  iov.reserve(frames.size());
  Offset next = base;
  for (auto* frame : frames) {
    frame->stamp(next);
    next += frame->count();
    iov.push_back({const_cast<char*>(frame->frame().data()), frame->frame().size()});
  }
  std::uint64_t end = start;
  for (const auto& part : iov)
    end += part.iov_len;
  // Writes the frames, then zeros up to `until`, and syncs; errno is set when it fails.
  auto write = [&](std::uint64_t until) {
    std::vector<iovec> parts = iov;
    for (std::uint64_t at = end; at < until; at += kZeros.size()) {
      parts.push_back(
          {const_cast<char*>(kZeros.data()),
           static_cast<std::size_t>(std::min<std::uint64_t>(kZeros.size(), until - at))});
    }
    std::uint64_t position = start;
    return pwritev_all(io_, fd_, parts, position) && io_.fdatasync(fd_) == 0;
  };
  // Cuts off whatever part of a failed write reached the file: none of it is acknowledged.
  auto cut_back = [&] {
    const int error = errno;
    if (io_.ftruncate(fd_, static_cast<off_t>(start)) != 0) {
      logger("log")->error("cannot truncate file={} error=\"{}\"", path_, errno_text());
    }
    file_bytes_ = start;  // if the cut failed, the next append overwrites what is there
    errno = error;
  };
  // Past the reserve, a small group starts the next one in the same write and sync.
  std::uint64_t zeros_until = end;
  if (end > file_bytes_ && end - start <= kReserveGroupBytes) {
    zeros_until = std::max(end, std::min(end + kReserveBytes, reserve_limit));
  }
  std::uint64_t file_bytes = std::max(file_bytes_, zeros_until);
  bool written = write(zeros_until);
  if (!written && errno == ENOSPC && zeros_until > end) {
    // A full disk may still have room for the frames alone: the reserve must not cost them.
    cut_back();
    file_bytes = end;
    written = write(end);
  }
  if (!written) {
    const std::string error = errno_text();
    cut_back();
    return make_error(Errc::kUnavailable, "the log cannot be written: " + error);
  }
  file_bytes_ = file_bytes;
  std::uint64_t position = start;
  for (auto* frame : frames) {
    const std::uint64_t frame_end = position + frame->frame().size();
    Offset frame_base = load_le<std::uint64_t>(frame->frame().data() + 8);
    publish(frame_base, frame->count(), position, frame_end, false);
    position = frame_end;
  }
  return base;
}

bool LogFile::trim_reserve() {
  const std::uint64_t data = size();
  if (file_bytes_ <= data) return true;
  // No sync: if the cut is lost in a crash, recovery finds the zeros again.
  if (io_.ftruncate(fd_, static_cast<off_t>(data)) != 0) return false;
  file_bytes_ = data;
  return true;
}

Result<ReadBatch> LogFile::read(Offset from, std::size_t max_records) const {
  ReadBatch out;
  out.next_offset = from;
  if (auto r = read_into(from, max_records, out); !r) return r.error();
  return out;
}

Result<void> LogFile::read_into(Offset from, std::size_t max_records, ReadBatch& out) const {
  max_records += out.records.size();  // the limit counts what `out` already holds
  std::uint64_t position, limit;
  std::map<std::uint64_t, std::uint64_t> gaps;
  {
    std::lock_guard lock(mutex_);
    if (index_.empty() || from >= end_offset_) return boost::outcome_v2::success();
    auto entry = std::upper_bound(index_.begin(), index_.end(), from,
                                  [](Offset o, const IndexEntry& e) { return o < e.base; });
    if (entry != index_.begin()) --entry;
    position = entry->position;
    limit = durable_size_;
    gaps = gaps_;
  }
  Window window(io_, fd_);
  std::string* buffer = nullptr;
  std::uint64_t buffer_start = 0;
  bool buffer_used = false;
  // Views handed out point into out.buffers; a buffer that holds records is never reused.
  auto view = [&](std::uint64_t at, std::size_t size) -> std::string_view {
    if (buffer && at >= buffer_start && at + size <= buffer_start + buffer->size()) {
      return std::string_view(*buffer).substr(at - buffer_start, size);
    }
    if (!buffer || buffer_used) {
      out.buffers.emplace_back();
      buffer = &out.buffers.back();
      buffer_used = false;
    }
    return window.get(*buffer, buffer_start, at, size, limit, kReadChunk);
  };
  while (position < limit && out.records.size() < max_records) {
    if (auto gap = gaps.find(position); gap != gaps.end()) {
      position = gap->second;
      continue;
    }
    auto corrupt = [&] {
      return make_error(Errc::kCorrupt, "log data does not match its checksum in " + path_ +
                                            " at byte " + std::to_string(position));
    };
    auto header = parse_frame_header(view(position, kFrameHeaderSize));
    if (!header) return corrupt();
    const std::uint64_t end = position + kFrameHeaderSize + header->body_length;
    if (header->base_offset + header->count <= from) {
      position = end;
      continue;
    }
    std::string_view body = view(position + kFrameHeaderSize, header->body_length);
    Offset offset = header->base_offset;
    bool ok = walk_frame_body(*header, body, [&](std::string_view record) {
      if (offset >= from && out.records.size() < max_records) {
        out.records.push_back({offset, record});
        buffer_used = true;
      }
      ++offset;
    });
    if (!ok) return corrupt();
    position = end;
  }
  if (!out.records.empty()) out.next_offset = out.records.back().offset + 1;
  return boost::outcome_v2::success();
}

std::uint64_t LogFile::size() const {
  std::lock_guard lock(mutex_);
  return durable_size_;
}

Offset LogFile::end_offset() const {
  std::lock_guard lock(mutex_);
  return end_offset_;
}

}  // namespace sluice::log
