#include "processor/processor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/logging.h"
#include "core/thread_name.h"

namespace sluice {

Processor::Processor(log::Log& log, const StoreConfig& config,
                     std::unique_ptr<store::StoreWriter> store)
    : log_(log),
      store_(std::move(store)),
      batch_max_events_(static_cast<std::size_t>(config.batch_max_events)),
      batch_max_wait_(config.batch_max_wait) {
  for (const auto& stream : log_.streams()) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      positions_[log::Partition(stream, p)] = 0;
  }
}

Processor::~Processor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Processor::start() {
  thread_ = std::thread([this] {
    name_this_thread("sluice-store");
    run();
  });
}

void Processor::notify() {
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  cv_.notify_all();
}

std::map<log::Partition, log::Offset> Processor::positions() const {
  std::lock_guard lock(mutex_);
  return positions_;
}

std::string Processor::failing() const {
  std::lock_guard lock(mutex_);
  return failing_;
}

void Processor::run() {
  auto log = logger("processor");
  // Ingest answers clients; the store can catch up. Under full load the collector's threads get
  // the CPU first (this thread runs at nice +5; it still gets its share, only later).
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
  std::chrono::milliseconds backoff{0};
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      seen = generation_;
    }
    auto pass = process_once();
    std::unique_lock lock(mutex_);
    if (!pass) {
      failing_ = pass.error().message;
      backoff = std::min(std::chrono::milliseconds{5000},
                         std::max(std::chrono::milliseconds{50}, backoff * 2));
      log->error("store write failed error=\"{}\" retry_in_ms={}", pass.error().message,
                 backoff.count());
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      continue;
    }
    backoff = std::chrono::milliseconds{0};
    failing_.clear();
    if (pass.value() == PassResult::kFull) continue;
    if (pass.value() == PassResult::kPartial) {
      // Let the next batch fill for a moment: one transaction of many events costs far less
      // than many of a few.
      cv_.wait_for(lock, batch_max_wait_, [&] { return stopping_; });
      continue;
    }
    // Wait for new records. The timeout only bounds the cost of a missed wake-up.
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || generation_ != seen; });
  }
}

Result<Processor::PassResult> Processor::process_once() {
  if (!offsets_loaded_) {
    auto committed = store_->committed_offsets(kConsumer);
    if (!committed) return committed.error();
    std::lock_guard lock(mutex_);
    for (auto& [partition, offset] : positions_) {
      auto it = committed.value().find(partition);
      if (it != committed.value().end()) offset = it->second;
    }
    offsets_loaded_ = true;
  }
  PassResult result = PassResult::kIdle;
  std::vector<log::Partition> partitions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [partition, offset] : positions_)
      partitions.push_back(partition);
  }
  for (const auto& partition : partitions) {
    log::Offset from;
    {
      std::lock_guard lock(mutex_);
      from = positions_[partition];
    }
    auto batch = log_.read(partition, from, batch_max_events_);
    if (!batch) return batch.error();
    if (batch.value().records.empty()) continue;
    if (auto written = store_->write(kConsumer, partition, batch.value()); !written) {
      return written.error();
    }
    const bool full = batch.value().records.size() >= batch_max_events_;
    std::lock_guard lock(mutex_);
    positions_[partition] = batch.value().next_offset;
    if (full) {
      result = PassResult::kFull;
    } else if (result == PassResult::kIdle) {
      result = PassResult::kPartial;
    }
  }
  return result;
}

}  // namespace sluice
