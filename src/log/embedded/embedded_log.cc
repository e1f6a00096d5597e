#include "log/embedded/embedded_log.h"

#include <filesystem>

#include "core/logging.h"

namespace sluice::log {

EmbeddedLog::EmbeddedLog(const std::string& dir, const std::vector<std::string>& streams,
                         const LogConfig& config, FileIo& io)
    : io_(io), group_commit_max_bytes_(config.group_commit_max_bytes) {
  const std::filesystem::path path(dir);
  std::filesystem::create_directories(path);
  fsync_dir(io_, path.has_parent_path() ? path.parent_path().string() : ".");
  for (const auto& name : streams) {
    files_.emplace(name, std::make_unique<LogFile>(io_, (path / (name + ".log")).string(), name));
  }
  fsync_dir(io_, dir);  // the files just created
  writer_ = std::thread([this] { writer_loop(); });
}

EmbeddedLog::~EmbeddedLog() {
  close();
}

void EmbeddedLog::close() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
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
  // One write and one sync per file, keeping arrival order within each file.
  std::map<LogFile*, std::vector<Pending*>> by_file;
  for (auto& p : group)
    by_file[p.file].push_back(&p);

  bool any_durable = false;
  for (auto& [file, items] : by_file) {
    std::vector<RecordBatch*> frames;
    frames.reserve(items.size());
    std::uint64_t bytes = 0;
    for (auto* p : items) {
      frames.push_back(&p->batch);
      bytes += p->batch.frame().size();
    }
    auto first = file->append(frames);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    if (!first) {
      failed_appends_.fetch_add(items.size(), std::memory_order_relaxed);
      report_failure(file->path(), first.error().message);
      for (auto* p : items)
        p->done(first.error());
      continue;
    }
    if (failing_) {
      logger("log")->info("appends succeed again file={} failed_since_last_report={}", file->path(),
                          failures_unreported_);
      failures_unreported_ = 0;
      failing_ = false;
    }
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    appends_.fetch_add(items.size(), std::memory_order_relaxed);
    any_durable = true;
    Offset offset = first.value();
    for (auto* p : items) {
      p->done(offset);
      offset += p->batch.count();
    }
  }
  if (any_durable && on_durable_) on_durable_();
}

void EmbeddedLog::report_failure(const std::string& path, const std::string& error) {
  // Under load every group fails while the disk is full: log the first failure at once, then
  // at most one line per interval with the count in between.
  constexpr auto kInterval = std::chrono::seconds(10);
  const auto now = std::chrono::steady_clock::now();
  ++failures_unreported_;
  if (failing_ && now - last_failure_report_ < kInterval) return;
  logger("log")->error(
      "append failed file={} error=\"{}\" failures={} (answering 503 until writes succeed)", path,
      error, failures_unreported_);
  failing_ = true;
  failures_unreported_ = 0;
  last_failure_report_ = now;
}

Result<ReadBatch> EmbeddedLog::read(const std::string& stream, Offset from,
                                    std::size_t max_records) {
  auto it = files_.find(stream);
  if (it == files_.end()) return make_error(Errc::kNotFound, "unknown stream \"" + stream + "\"");
  return it->second->read(from, max_records);
}

Offset EmbeddedLog::end_offset(const std::string& stream) const {
  auto it = files_.find(stream);
  return it == files_.end() ? 0 : it->second->end_offset();
}

std::vector<std::string> EmbeddedLog::streams() const {
  std::vector<std::string> names;
  names.reserve(files_.size());
  for (const auto& [name, file] : files_)
    names.push_back(name);
  return names;
}

EmbeddedLog::Stats EmbeddedLog::stats() const {
  Stats stats{.appends = appends_.load(std::memory_order_relaxed),
              .syncs = syncs_.load(std::memory_order_relaxed),
              .bytes = bytes_.load(std::memory_order_relaxed),
              .failed_appends = failed_appends_.load(std::memory_order_relaxed)};
  for (const auto& [name, file] : files_)
    stats.corrupt_regions += file->corrupt_regions();
  return stats;
}

void EmbeddedLog::set_on_durable(std::function<void()> callback) {
  on_durable_ = std::move(callback);
}

}  // namespace sluice::log
