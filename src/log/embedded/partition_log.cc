#include "log/embedded/partition_log.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <stdexcept>

#include "core/logging.h"

namespace sluice::log {
namespace {

constexpr std::string_view kSegmentSuffix = ".log";

// "00000000000000001234.log" → 1234.
std::optional<Offset> parse_segment_name(const std::string& file_name) {
  if (file_name.size() != 20 + kSegmentSuffix.size() || !file_name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  Offset base = 0;
  auto [end, ec] = std::from_chars(file_name.data(), file_name.data() + 20, base);
  if (ec != std::errc() || end != file_name.data() + 20) return std::nullopt;
  return base;
}

}  // namespace

std::string PartitionLog::segment_name(Offset base_offset) {
  return fmt::format("{:020}{}", base_offset, kSegmentSuffix);
}

PartitionLog::PartitionLog(FileIo& io, std::string dir, Partition partition,
                           const LogConfig& config, const RetentionHolds* holds)
    : io_(io),
      dir_(std::move(dir)),
      partition_(std::move(partition)),
      name_(fmt::format("{}/{}", partition_.stream, partition_.index)),
      segment_bytes_(config.segment_bytes),
      retention_bytes_(config.retention_bytes),
      retention_age_(config.retention_age),
      holds_(holds) {
  std::filesystem::create_directories(dir_);
  std::vector<Offset> bases;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (auto base = parse_segment_name(entry.path().filename().string())) bases.push_back(*base);
  }
  std::sort(bases.begin(), bases.end());
  for (Offset base : bases) {
    auto segment = std::make_shared<LogFile>(
        io_, (std::filesystem::path(dir_) / segment_name(base)).string(), name_, base);
    segments_.emplace(base, std::move(segment));
  }
  if (segments_.empty()) roll(0);
  fsync_dir(io_, dir_);
}

void PartitionLog::roll(Offset base_offset) {
  auto segment = std::make_shared<LogFile>(
      io_, (std::filesystem::path(dir_) / segment_name(base_offset)).string(), name_, base_offset);
  fsync_dir(io_, dir_);  // the new file's directory entry is durable before data goes in it
  std::lock_guard lock(mutex_);
  segments_.emplace(base_offset, std::move(segment));
}

std::shared_ptr<LogFile> PartitionLog::active() const {
  std::lock_guard lock(mutex_);
  return segments_.rbegin()->second;
}

std::optional<std::string> PartitionLog::over_budget(std::uint64_t incoming) const {
  if (holds_ == nullptr || retention_bytes_ == 0) return std::nullopt;
  Offset oldest_end = 0;
  std::uint64_t total = 0;
  {
    std::lock_guard lock(mutex_);
    if (segments_.size() <= 1) return std::nullopt;  // the newest segment is never deleted
    for (const auto& [base, segment] : segments_)
      total += segment->size();
    oldest_end = segments_.begin()->second->end_offset();
  }
  if (total + incoming <= retention_bytes_) return std::nullopt;
  const auto holder = holds_->oldest(partition_);
  if (!holder || holder->from >= oldest_end) return std::nullopt;  // deleted by the next pass
  return fmt::format(
      "stream {} partition {} is at log.retention_bytes ({} bytes) and {} still needs its "
      "events from offset {} (log.retention_policy: protect); accepting more would delete "
      "events it has not processed",
      partition_.stream, partition_.index, retention_bytes_, holder->consumer, holder->from);
}

Result<Offset> PartitionLog::append(const std::vector<RecordBatch*>& frames) {
  if (holds_ != nullptr && retention_bytes_ > 0) {
    std::uint64_t incoming = 0;
    for (const auto* frame : frames)
      incoming += frame->frame().size();
    if (auto full = over_budget(incoming)) return make_error(Errc::kUnavailable, *full);
  }
  auto segment = active();
  if (segment->size() >= segment_bytes_) {
    if (!segment->trim_reserve()) {
      logger("log")->warn("cannot cut the reserve off file={} error=\"{}\"", segment->path(),
                          errno_text());
    }
    try {
      roll(segment->end_offset());
    } catch (const std::exception& e) {
      return make_error(Errc::kUnavailable,
                        std::string("cannot start a new log segment: ") + e.what());
    }
    segment = active();
  }
  return segment->append(frames, segment_bytes_);
}

std::size_t PartitionLog::enforce_retention() {
  if (retention_bytes_ == 0 && retention_age_.count() == 0) return 0;
  const auto now = std::filesystem::file_time_type::clock::now();
  // Under protect, nothing some consumer has not processed yet.
  const auto holder = holds_ ? holds_->oldest(partition_) : std::nullopt;
  std::size_t deleted = 0;
  for (;;) {
    std::shared_ptr<LogFile> oldest;
    std::uint64_t total = 0;
    {
      std::lock_guard lock(mutex_);
      if (segments_.size() <= 1) break;
      for (const auto& [base, segment] : segments_)
        total += segment->size();
      oldest = segments_.begin()->second;
    }
    std::error_code ec;
    const auto modified = std::filesystem::last_write_time(oldest->path(), ec);
    const bool too_big = retention_bytes_ > 0 && total > retention_bytes_;
    const bool too_old = retention_age_.count() > 0 && !ec && now - modified > retention_age_;
    if (!too_big && !too_old) break;
    if (holder && oldest->end_offset() > holder->from) break;
    {
      std::lock_guard lock(mutex_);
      segments_.erase(oldest->base_offset());
    }
    // Readers holding the segment keep reading through its open file descriptor.
    std::filesystem::remove(oldest->path(), ec);
    logger("log")->info("retention deleted segment partition={} file={} offsets={}..{} reason={}",
                        name_, oldest->path(), oldest->base_offset(), oldest->end_offset(),
                        too_big ? "retention_bytes" : "retention_age");
    ++deleted;
  }
  if (deleted > 0) fsync_dir(io_, dir_);
  return deleted;
}

Result<ReadBatch> PartitionLog::read(Offset from, std::size_t max_records) const {
  std::vector<std::shared_ptr<LogFile>> segments;
  ReadBatch out;
  {
    std::lock_guard lock(mutex_);
    // Records before the oldest segment were deleted by retention.
    const Offset oldest = segments_.begin()->first;
    if (from < oldest) out.skipped = oldest - from;
    auto it = segments_.upper_bound(from);
    if (it != segments_.begin()) --it;
    for (; it != segments_.end(); ++it)
      segments.push_back(it->second);
  }
  out.next_offset = from;
  for (const auto& segment : segments) {
    if (out.records.size() >= max_records) break;
    const Offset start = std::max(out.next_offset, segment->base_offset());
    if (auto r = segment->read_into(start, max_records - out.records.size(), out); !r) {
      return r.error();
    }
  }
  return out;
}

namespace {

bool valid_group_name(const std::string& group) {
  if (group.empty() || group.size() > 64) return false;
  for (char c : group) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return group != "." && group != "..";
}

}  // namespace

Result<void> PartitionLog::commit(const std::string& group, Offset next_offset) {
  if (!valid_group_name(group)) {
    return make_error(Errc::kInvalidInput, "invalid consumer group name \"" + group + "\"");
  }
  if (next_offset > end_offset()) {
    return make_error(Errc::kInvalidInput, fmt::format("offset {} is past the end of {} ({})",
                                                       next_offset, name_, end_offset()));
  }
  std::lock_guard lock(commit_mutex_);
  const auto consumers = std::filesystem::path(dir_) / "consumers";
  std::error_code ec;
  if (!std::filesystem::exists(consumers)) {
    std::filesystem::create_directories(consumers, ec);
    if (ec) return make_error(Errc::kUnavailable, "cannot create " + consumers.string());
    fsync_dir(io_, dir_);
  }
  const auto path = consumers / (group + ".offset");
  const auto temporary = consumers / (group + ".offset.tmp");
  const std::string text = std::to_string(next_offset) + "\n";
  int fd = io_.open(temporary.string(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(Errc::kUnavailable, "cannot write " + temporary.string());
  const bool written =
      io_.write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
      io_.fsync(fd) == 0;
  const std::string error = written ? "" : errno_text();
  io_.close(fd);
  if (!written) {
    return make_error(Errc::kUnavailable, "cannot write " + temporary.string() + ": " + error);
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    return make_error(Errc::kUnavailable, "cannot replace " + path.string() + ": " + ec.message());
  }
  fsync_dir(io_, consumers.string());
  return boost::outcome_v2::success();
}

Result<std::optional<Offset>> PartitionLog::committed(const std::string& group) const {
  if (!valid_group_name(group)) {
    return make_error(Errc::kInvalidInput, "invalid consumer group name \"" + group + "\"");
  }
  const auto path = std::filesystem::path(dir_) / "consumers" / (group + ".offset");
  int fd = io_.open(path.string(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<Offset>();
    return make_error(Errc::kUnavailable, "cannot read " + path.string() + ": " + errno_text());
  }
  char text[32] = {};
  const ssize_t n = io_.pread(fd, text, sizeof(text) - 1, 0);
  io_.close(fd);
  Offset offset = 0;
  auto [end, ec] = std::from_chars(text, text + std::max<ssize_t>(n, 0), offset);
  if (n <= 0 || ec != std::errc() || *end != '\n') {
    return make_error(Errc::kCorrupt, "unreadable consumer offset in " + path.string());
  }
  return std::optional<Offset>(offset);
}

Offset PartitionLog::start_offset() const {
  std::lock_guard lock(mutex_);
  return segments_.begin()->first;
}

Offset PartitionLog::end_offset() const {
  return active()->end_offset();
}

std::uint64_t PartitionLog::size_bytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [base, segment] : segments_)
    total += segment->size();
  return total;
}

std::size_t PartitionLog::segment_count() const {
  std::lock_guard lock(mutex_);
  return segments_.size();
}

std::uint64_t PartitionLog::corrupt_regions() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [base, segment] : segments_)
    total += segment->corrupt_regions();
  return total;
}

}  // namespace sluice::log
