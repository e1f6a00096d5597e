#include "log/embedded/embedded_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "core/bytes.h"
#include "core/crc32c.h"
#include "core/logging.h"
#include "log/log_format.h"

namespace sluice::log {
namespace {

std::string errno_text() {
  return std::error_code(errno, std::generic_category()).message();
}

void fsync_dir(FileIo& io, const std::string& dir) {
  int fd = io.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("cannot open directory " + dir + ": " + errno_text());
  io.fsync(fd);
  io.close(fd);
}

bool pread_all(FileIo& io, int fd, char* dst, std::size_t size, std::uint64_t position) {
  while (size > 0) {
    ssize_t n = io.pread(fd, dst, size, static_cast<off_t>(position));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    dst += n;
    size -= static_cast<std::size_t>(n);
    position += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Checks a frame body's record structure; calls `each(record)` for every record.
template <class Each>
bool walk_body(std::string_view body, std::uint32_t& count, Each&& each) {
  if (body.size() < kBodyCountSize) return false;
  count = load_le<std::uint32_t>(body.data());
  std::size_t pos = kBodyCountSize;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (body.size() - pos < kRecordLengthSize) return false;
    auto length = load_le<std::uint32_t>(body.data() + pos);
    pos += kRecordLengthSize;
    if (body.size() - pos < length) return false;
    each(body.substr(pos, length));
    pos += length;
  }
  return pos == body.size();
}

// Copies bytes [from, to) of `fd` into a new file at `path` and syncs it.
void save_tail(FileIo& io, int fd, std::uint64_t from, std::uint64_t to, const std::string& path) {
  std::string bytes(to - from, '\0');
  if (!pread_all(io, fd, bytes.data(), bytes.size(), from)) {
    throw std::runtime_error("cannot read the tail of the log to save it: " + errno_text());
  }
  int out = io.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot create " + path + ": " + errno_text());
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = io.write(out, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      io.close(out);
      throw std::runtime_error("cannot write " + path + ": " + errno_text());
    }
    done += static_cast<std::size_t>(n);
  }
  io.fsync(out);
  io.close(out);
}

// Writes every byte of `iov` at `position`, advancing it; false on an error.
bool pwritev_all(FileIo& io, int fd, std::vector<iovec>& iov, std::uint64_t& position) {
  std::size_t first = 0;
  while (first < iov.size()) {
    const int n_iov = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = io.pwritev(fd, iov.data() + first, n_iov, static_cast<off_t>(position));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    position += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len)
      left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

}  // namespace

EmbeddedLog::EmbeddedLog(const std::string& dir, const std::vector<std::string>& streams,
                         const LogConfig& config, FileIo& io)
    : io_(io), group_commit_max_bytes_(config.group_commit_max_bytes) {
  std::filesystem::create_directories(dir);
  fsync_dir(io_, std::filesystem::path(dir).parent_path().empty()
                     ? "."
                     : std::filesystem::path(dir).parent_path().string());
  for (const auto& name : streams)
    open_stream(dir, name);
  fsync_dir(io_, dir);
  writer_ = std::thread([this] { writer_loop(); });
}

EmbeddedLog::~EmbeddedLog() {
  close();
  for (auto& [name, file] : files_)
    io_.close(file->fd);
}

void EmbeddedLog::close() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void EmbeddedLog::open_stream(const std::string& dir, const std::string& name) {
  auto file = std::make_unique<StreamFile>();
  file->path = (std::filesystem::path(dir) / (name + ".log")).string();
  file->fd = io_.open(file->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (file->fd < 0) throw std::runtime_error("cannot open " + file->path + ": " + errno_text());
  std::uint64_t size = 0;
  if (io_.file_size(file->fd, size) != 0) {
    throw std::runtime_error("cannot stat " + file->path + ": " + errno_text());
  }

  // Recovery: walk the frames; the first one that is incomplete or fails its checksum ends the
  // valid log. After a crash that is the frame being written; it was never acknowledged.
  std::uint64_t position = 0;
  std::string header(kFrameHeaderSize, '\0');
  std::string body;
  std::string problem;
  while (position < size) {
    if (size - position < kFrameHeaderSize) {
      problem = "incomplete frame header";
      break;
    }
    if (!pread_all(io_, file->fd, header.data(), kFrameHeaderSize, position)) {
      throw std::runtime_error("cannot read " + file->path + ": " + errno_text());
    }
    auto length = load_le<std::uint32_t>(header.data());
    auto checksum = load_le<std::uint32_t>(header.data() + 4);
    if (length > kMaxFrameBody || length > size - position - kFrameHeaderSize) {
      problem = "incomplete frame body";
      break;
    }
    body.resize(length);
    if (!pread_all(io_, file->fd, body.data(), length, position + kFrameHeaderSize)) {
      throw std::runtime_error("cannot read " + file->path + ": " + errno_text());
    }
    std::uint32_t count = 0;
    if (crc32c(body) != checksum || !walk_body(body, count, [](std::string_view) {})) {
      problem = "checksum mismatch";
      break;
    }
    auto frame_size = static_cast<std::uint32_t>(kFrameHeaderSize + length);
    file->frames.push_back({file->end_offset, position, count, frame_size});
    file->end_offset += count;
    position += frame_size;
  }
  if (position < size) {
    // Keep the cut bytes beside the log: after a crash they are an unacknowledged partial write,
    // but after a disk error they may hold acknowledged frames that someone can still salvage.
    const std::string saved = file->path + ".cut-" + std::to_string(position);
    save_tail(io_, file->fd, position, size, saved);
    logger("log")->warn(
        "recovery stream={} file={} truncated_bytes={} at={} reason=\"{}\" saved_to={}", name,
        file->path, size - position, position, problem, saved);
    if (io_.ftruncate(file->fd, static_cast<off_t>(position)) != 0 ||
        io_.fdatasync(file->fd) != 0) {
      throw std::runtime_error("cannot truncate " + file->path + ": " + errno_text());
    }
  }
  file->file_size = position;
  logger("log")->info("opened stream={} events={} bytes={}", name, file->end_offset, position);
  files_.emplace(name, std::move(file));
}

void EmbeddedLog::append(const std::string& stream, RecordBatch batch, AppendDone done) {
  auto it = files_.find(stream);
  if (it == files_.end()) {
    done(make_error(Errc::kNotFound, "unknown stream \"" + stream + "\""));
    return;
  }
  batch.seal();
  {
    std::unique_lock lock(queue_mutex_);
    if (stopping_) {
      lock.unlock();
      done(make_error(Errc::kUnavailable, "the log is shutting down"));
      return;
    }
    queue_.push_back({it->second.get(), std::move(batch), std::move(done)});
  }
  queue_cv_.notify_one();
}

void EmbeddedLog::writer_loop() {
  std::vector<Pending> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been written
      std::uint64_t bytes = 0;
      while (!queue_.empty() && (group.empty() || bytes + queue_.front().batch.frame().size() <=
                                                      group_commit_max_bytes_)) {
        bytes += queue_.front().batch.frame().size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    write_group(group);
    group.clear();
  }
}

void EmbeddedLog::write_group(std::vector<Pending>& group) {
  // Group by file, keeping arrival order within each file.
  std::map<StreamFile*, std::vector<Pending*>> by_file;
  for (auto& p : group)
    by_file[p.file].push_back(&p);

  std::map<StreamFile*, std::string> failed;
  for (auto& [file, items] : by_file) {
    std::uint64_t start = file->file_size;
    std::uint64_t position = start;
    bool ok = true;
    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (auto* p : items) {
      const auto& frame = p->batch.frame();
      iov.push_back({const_cast<char*>(frame.data()), frame.size()});
    }
    if (!pwritev_all(io_, file->fd, iov, position)) ok = false;
    if (ok && io_.fdatasync(file->fd) != 0) ok = false;
    syncs_.fetch_add(1, std::memory_order_relaxed);
    if (!ok) {
      failed[file] = errno_text();
      failed_appends_.fetch_add(items.size(), std::memory_order_relaxed);
      report_failure(file->path, failed[file]);
      // Cut off whatever part of the group reached the file: none of it was acknowledged.
      if (io_.ftruncate(file->fd, static_cast<off_t>(start)) != 0) {
        logger("log")->error("cannot truncate file={} error=\"{}\"", file->path, errno_text());
      }
      continue;
    }
    if (failures_unreported_ > 0 || failing_) {
      logger("log")->info("appends succeed again file={} failed_since_last_report={}", file->path,
                          failures_unreported_);
      failures_unreported_ = 0;
      failing_ = false;
    }
    bytes_.fetch_add(position - start, std::memory_order_relaxed);
    appends_.fetch_add(items.size(), std::memory_order_relaxed);
    file->file_size = position;
    std::lock_guard lock(file->index_mutex);
    std::uint64_t frame_position = start;
    for (auto* p : items) {
      const auto size = static_cast<std::uint32_t>(p->batch.frame().size());
      file->frames.push_back({file->end_offset, frame_position, p->batch.count(), size});
      file->end_offset += p->batch.count();
      frame_position += size;
    }
  }

  // Acknowledge. Offsets were assigned in order above; recompute each batch's first offset.
  for (auto& [file, items] : by_file) {
    if (auto f = failed.find(file); f != failed.end()) {
      for (auto* p : items) {
        p->done(make_error(Errc::kUnavailable, "the log cannot be written: " + f->second));
      }
      continue;
    }
    Offset first;
    {
      std::lock_guard lock(file->index_mutex);
      first = file->end_offset;
    }
    for (auto* p : items)
      first -= p->batch.count();
    for (auto* p : items) {
      p->done(first);
      first += p->batch.count();
    }
  }
  if (failed.size() < by_file.size() && on_durable_) on_durable_();
}

Result<ReadBatch> EmbeddedLog::read(const std::string& stream, Offset from,
                                    std::size_t max_records) {
  auto it = files_.find(stream);
  if (it == files_.end()) return make_error(Errc::kNotFound, "unknown stream \"" + stream + "\"");
  StreamFile& file = *it->second;

  std::vector<FrameEntry> frames;
  {
    std::lock_guard lock(file.index_mutex);
    auto first = std::upper_bound(file.frames.begin(), file.frames.end(), from,
                                  [](Offset o, const FrameEntry& f) { return o < f.base; });
    if (first != file.frames.begin()) --first;
    std::size_t records = 0;
    for (auto f = first; f != file.frames.end() && records < max_records; ++f) {
      if (f->base + f->count <= from) continue;
      frames.push_back(*f);
      records += f->count;
    }
  }
  ReadBatch out;
  out.next_offset = from;
  if (frames.empty()) return out;

  // Frames are contiguous in the file: one read covers them all.
  const std::uint64_t begin = frames.front().position;
  const std::uint64_t end = frames.back().position + frames.back().size;
  out.buffer.resize(end - begin);
  if (!pread_all(io_, file.fd, out.buffer.data(), out.buffer.size(), begin)) {
    return make_error(Errc::kUnavailable, "cannot read " + file.path + ": " + errno_text());
  }
  for (const auto& f : frames) {
    std::string_view frame(out.buffer.data() + (f.position - begin), f.size);
    std::string_view body = frame.substr(kFrameHeaderSize);
    if (crc32c(body) != load_le<std::uint32_t>(frame.data() + 4)) {
      return make_error(Errc::kCorrupt, "checksum mismatch in " + file.path + " at byte " +
                                            std::to_string(f.position));
    }
    Offset offset = f.base;
    std::uint32_t count = 0;
    walk_body(body, count, [&](std::string_view record) {
      if (offset >= from && out.records.size() < max_records) {
        out.records.push_back({offset, record});
      }
      ++offset;
    });
  }
  if (!out.records.empty()) out.next_offset = out.records.back().offset + 1;
  return out;
}

Offset EmbeddedLog::end_offset(const std::string& stream) const {
  auto it = files_.find(stream);
  if (it == files_.end()) return 0;
  std::lock_guard lock(it->second->index_mutex);
  return it->second->end_offset;
}

std::vector<std::string> EmbeddedLog::streams() const {
  std::vector<std::string> names;
  names.reserve(files_.size());
  for (const auto& [name, file] : files_)
    names.push_back(name);
  return names;
}

void EmbeddedLog::report_failure(const std::string& path, const std::string& error) {
  // Under load every group fails while the disk is full: log the first failure at once, then
  // at most one line per interval with the count in between.
  constexpr auto kInterval = std::chrono::seconds(10);
  const auto now = std::chrono::steady_clock::now();
  ++failures_unreported_;
  if (failing_ && now - last_failure_report_ < kInterval) return;
  logger("log")->error(
      "append failed file={} error=\"{}\" failures={} (answering 503 until "
      "writes succeed)",
      path, error, failures_unreported_);
  failing_ = true;
  failures_unreported_ = 0;
  last_failure_report_ = now;
}

EmbeddedLog::Stats EmbeddedLog::stats() const {
  return Stats{.appends = appends_.load(std::memory_order_relaxed),
               .syncs = syncs_.load(std::memory_order_relaxed),
               .bytes = bytes_.load(std::memory_order_relaxed),
               .failed_appends = failed_appends_.load(std::memory_order_relaxed)};
}

void EmbeddedLog::set_on_durable(std::function<void()> callback) {
  on_durable_ = std::move(callback);
}

}  // namespace sluice::log
