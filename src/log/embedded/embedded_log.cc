#include "log/embedded/embedded_log.h"

#include <filesystem>

#include "core/logging.h"
#include "core/thread_name.h"

namespace sluice::log {

std::string EmbeddedLog::partition_dir(const std::string& dir, const Partition& partition) {
  return (std::filesystem::path(dir) / partition.stream / std::to_string(partition.index)).string();
}

EmbeddedLog::EmbeddedLog(const std::string& dir, const std::vector<StreamSpec>& streams,
                         const LogConfig& config, FileIo& io)
    : lock_(dir),
      io_(io),
      group_commit_max_bytes_(config.group_commit_max_bytes),
      group_commit_max_wait_(config.group_commit_max_wait) {
  const std::filesystem::path root(dir);
  std::filesystem::create_directories(root);
  fsync_dir(io_, root.has_parent_path() ? root.parent_path().string() : ".");
  for (const auto& spec : streams) {
    const auto stream_dir = root / spec.name;
    std::filesystem::create_directories(stream_dir);
    // Fewer partitions than on disk would strand the events of the ones dropped.
    for (std::uint32_t p = spec.partitions; std::filesystem::exists(stream_dir / std::to_string(p));
         ++p) {
      throw std::runtime_error("stream \"" + spec.name + "\" has partition " + std::to_string(p) +
                               " on disk but is configured with " +
                               std::to_string(spec.partitions) +
                               " partitions; partitions can be added, not removed");
    }
    for (std::uint32_t p = 0; p < spec.partitions; ++p) {
      Partition partition(spec.name, p);
      files_.emplace(partition, std::make_unique<PartitionLog>(
                                    io_, partition_dir(dir, partition), partition, config,
                                    config.retention_policy == "protect" ? &holds_ : nullptr));
    }
    partition_counts_[spec.name] = spec.partitions;
    fsync_dir(io_, stream_dir.string());  // the partition directories just created
  }
  fsync_dir(io_, dir);  // the stream directories just created
  completer_ = std::thread([this] {
    name_this_thread("sluice-log-ack");
    completion_loop();
  });
  writer_ = std::thread([this] {
    name_this_thread("sluice-log-wr");
    writer_loop();
  });
}

const PartitionLog* EmbeddedLog::partition_log(const Partition& partition) const {
  auto it = files_.find(partition);
  return it == files_.end() ? nullptr : it->second.get();
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
  {
    std::lock_guard lock(completion_mutex_);
    completion_stop_ = true;
  }
  completion_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void EmbeddedLog::append(const Partition& partition, RecordBatch batch, AppendDone done) {
  auto it = files_.find(partition);
  if (it == files_.end()) {
    done(unknown_partition(partition));
    return;
  }
  batch.seal();
  bool wake = false;
  {
    std::unique_lock lock(queue_mutex_);
    if (stopping_) {
      lock.unlock();
      done(make_error(Errc::kUnavailable, "the log is shutting down"));
      return;
    }
    queued_bytes_ += batch.frame().size();
    queue_.push_back({it->second.get(), std::move(batch), std::move(done)});
    // Only a writer that waits for this append is woken: one with nothing to write, or one
    // holding a group open that this append fills. Waking it for every append made a group's
    // wait (group_commit_max_wait) one futex wake-up per joining request.
    wake = writer_idle_ || (writer_collecting_ && queued_bytes_ >= group_commit_max_bytes_);
  }
  if (wake) queue_cv_.notify_one();
}

void EmbeddedLog::writer_loop() {
  std::vector<Pending> group;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      // Wake at least every 10 s so retention by age runs on idle partitions too.
      writer_idle_ = true;
      const bool woken = queue_cv_.wait_for(lock, std::chrono::seconds(10),
                                            [&] { return stopping_ || !queue_.empty(); });
      writer_idle_ = false;
      if (!woken) {
        lock.unlock();
        enforce_retention();
        continue;
      }
      if (queue_.empty()) return;  // stopping, and everything queued has been written
      if (group_commit_max_wait_.count() > 0) {
        // Trade a little latency for fewer syncs: give other requests a bounded time to join.
        writer_collecting_ = true;
        queue_cv_.wait_for(lock, group_commit_max_wait_,
                           [&] { return stopping_ || queued_bytes_ >= group_commit_max_bytes_; });
        writer_collecting_ = false;
      }
      std::uint64_t bytes = 0;
      while (!queue_.empty() && (group.empty() || bytes + queue_.front().batch.frame().size() <=
                                                      group_commit_max_bytes_)) {
        bytes += queue_.front().batch.frame().size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_bytes_ -= bytes;
    }
    write_group(group);
    group.clear();
  }
}

void EmbeddedLog::write_group(std::vector<Pending>& group) {
  // One write and one sync per file, keeping arrival order within each file. The files of a
  // group are written at once: their syncs are independent.
  std::map<PartitionLog*, std::vector<Pending*>> by_file;
  for (auto& p : group)
    by_file[p.file].push_back(&p);
  std::vector<FileWrite> writes;
  writes.reserve(by_file.size());
  for (auto& [file, items] : by_file)
    writes.push_back({file, &items, {}, false});
  file_writers_.run(writes.size(), [&](std::size_t i) { write_file(writes[i]); });

  std::vector<Completion> completions;
  completions.reserve(group.size());
  bool any_durable = false;
  for (auto& w : writes) {
    any_durable = any_durable || w.durable;
    for (auto& c : w.completions)
      completions.push_back(std::move(c));
  }
  // Waking the waiting requests is left to the completion thread, so the next group's write
  // can start at once.
  {
    std::lock_guard lock(completion_mutex_);
    for (auto& c : completions)
      completions_.push_back(std::move(c));
    notify_durable_ = notify_durable_ || any_durable;
  }
  completion_cv_.notify_one();
}

void EmbeddedLog::write_file(FileWrite& w) {
  PartitionLog* file = w.file;
  const std::vector<Pending*>& items = *w.items;
  w.completions.reserve(items.size());
  // Retention runs before the write, so by the time a request is acknowledged every earlier
  // write's retention has been applied.
  segments_deleted_.fetch_add(file->enforce_retention(), std::memory_order_relaxed);
  std::vector<RecordBatch*> frames;
  frames.reserve(items.size());
  std::uint64_t bytes = 0;
  for (auto* p : items) {
    frames.push_back(&p->batch);
    bytes += p->batch.frame().size();
  }
  const auto write_started = std::chrono::steady_clock::now();
  auto first = file->append(frames);
  sync_latency_.observe_since(write_started);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (!first) {
    failed_appends_.fetch_add(items.size(), std::memory_order_relaxed);
    failures_.failed(file->dir(), first.error().message);
    for (auto* p : items)
      w.completions.push_back({std::move(p->done), first.error()});
    return;
  }
  failures_.succeeded(file->dir());
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  appends_.fetch_add(items.size(), std::memory_order_relaxed);
  w.durable = true;
  Offset offset = first.value();
  for (auto* p : items) {
    w.completions.push_back({std::move(p->done), offset});
    offset += p->batch.count();
  }
}

void EmbeddedLog::completion_loop() {
  std::vector<Completion> batch;
  for (;;) {
    bool durable;
    {
      std::unique_lock lock(completion_mutex_);
      completion_cv_.wait(lock, [&] { return completion_stop_ || !completions_.empty(); });
      if (completions_.empty()) return;  // stopping, and everything has been answered
      batch.swap(completions_);
      durable = notify_durable_;
      notify_durable_ = false;
    }
    for (auto& c : batch)
      c.done(std::move(c.result));
    batch.clear();
    if (durable && on_durable_) on_durable_();
  }
}

void EmbeddedLog::enforce_retention() {
  for (auto& [partition, file] : files_) {
    segments_deleted_.fetch_add(file->enforce_retention(), std::memory_order_relaxed);
  }
}

Result<ReadBatch> EmbeddedLog::read(const Partition& partition, Offset from,
                                    std::size_t max_records) {
  auto it = files_.find(partition);
  if (it == files_.end()) {
    return unknown_partition(partition);
  }
  return it->second->read(from, max_records);
}

Offset EmbeddedLog::end_offset(const Partition& partition) const {
  auto it = files_.find(partition);
  return it == files_.end() ? 0 : it->second->end_offset();
}

std::vector<std::string> EmbeddedLog::streams() const {
  std::vector<std::string> names;
  names.reserve(partition_counts_.size());
  for (const auto& [name, count] : partition_counts_)
    names.push_back(name);
  return names;
}

std::uint32_t EmbeddedLog::partitions(const std::string& stream) const {
  auto it = partition_counts_.find(stream);
  return it == partition_counts_.end() ? 0 : it->second;
}

LogStats EmbeddedLog::stats() const {
  LogStats stats{.appends = appends_.load(std::memory_order_relaxed),
                 .failed_appends = failed_appends_.load(std::memory_order_relaxed),
                 .bytes = bytes_.load(std::memory_order_relaxed),
                 .syncs = syncs_.load(std::memory_order_relaxed),
                 .segments_deleted = segments_deleted_.load(std::memory_order_relaxed),
                 .sync_seconds = sync_latency_.snapshot(),
                 .failing = failures_.failing()};
  for (const auto& [name, file] : files_)
    stats.corrupt_regions += file->corrupt_regions();
  std::lock_guard lock(skipped_mutex_);
  stats.skipped = skipped_;
  return stats;
}

void EmbeddedLog::hold(const std::string& consumer, const Partition& partition, Offset from) {
  holds_.hold(consumer, partition, from);
}

void EmbeddedLog::report_skipped(const std::string& consumer, const Partition& partition,
                                 Offset from, std::uint64_t count) {
  if (count == 0) return;
  logger("log")->warn(
      "retention deleted events before {} read them: stream={} partition={} offsets={}..{} "
      "count={} (log.retention_policy: drop_oldest)",
      consumer, partition.stream, partition.index, from, from + count - 1, count);
  std::lock_guard lock(skipped_mutex_);
  skipped_[consumer] += count;
}

Result<void> EmbeddedLog::commit(const std::string& group, const Partition& partition,
                                 Offset next_offset) {
  auto it = files_.find(partition);
  if (it == files_.end()) {
    return unknown_partition(partition);
  }
  return it->second->commit(group, next_offset);
}

Result<std::optional<Offset>> EmbeddedLog::committed(const std::string& group,
                                                     const Partition& partition) const {
  auto it = files_.find(partition);
  if (it == files_.end()) {
    return unknown_partition(partition);
  }
  return it->second->committed(group);
}

void EmbeddedLog::set_on_durable(std::function<void()> callback) {
  on_durable_ = std::move(callback);
}

}  // namespace sluice::log
