#include "processor/processor.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "core/event.h"
#include "core/json_text.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "core/time.h"

namespace sluice {

Processor::Processor(log::Log& log, const StoreConfig& config,
                     std::unique_ptr<store::StoreWriter> store,
                     std::map<std::string, StreamConfig> dead_letters)
    : log_(log),
      store_(std::move(store)),
      dead_letters_(std::move(dead_letters)),
      batch_max_events_(static_cast<std::size_t>(config.batch_max_events)),
      batch_max_wait_(config.batch_max_wait) {
  for (const auto& stream : log_.streams()) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      const log::Partition partition(stream, p);
      positions_[partition] = 0;
      log_.hold(kConsumer, partition, 0);  // until the store says where it is
    }
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

std::map<log::Partition, std::uint64_t> Processor::stored() const {
  std::lock_guard lock(mutex_);
  std::map<log::Partition, std::uint64_t> out;
  for (const auto& [partition, position] : positions_) {
    const auto skipped = skipped_.find(partition);
    out[partition] = position - (skipped == skipped_.end() ? 0 : skipped->second);
  }
  return out;
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
    std::vector<std::string> streams;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [partition, offset] : positions_) {
        if (streams.empty() || streams.back() != partition.stream)
          streams.push_back(partition.stream);
      }
    }
    if (auto prepared = store_->prepare_statistics(streams); !prepared) return prepared.error();
    statistics_ready_ = true;
    auto committed = store_->committed_offsets(kConsumer);
    if (!committed) return committed.error();
    auto skipped = store_->skipped(kConsumer);
    if (!skipped) return skipped.error();
    std::lock_guard lock(mutex_);
    for (auto& [partition, offset] : positions_) {
      auto it = committed.value().find(partition);
      if (it != committed.value().end()) offset = it->second;
      log_.hold(kConsumer, partition, offset);
    }
    skipped_ = std::move(skipped.value());
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
    if (batch.value().records.empty() && batch.value().skipped == 0) continue;
    if (auto written = write_isolating(partition, batch.value()); !written) {
      return written.error();
    }
    // Reported once stored: the count is in the store with the offset.
    log_.report_skipped(kConsumer, partition, from, batch.value().skipped);
    log_.hold(kConsumer, partition, batch.value().next_offset);
    const bool full = batch.value().records.size() >= batch_max_events_;
    std::lock_guard lock(mutex_);
    positions_[partition] = batch.value().next_offset;
    skipped_[partition] += batch.value().skipped;
    if (full) {
      result = PassResult::kFull;
    } else if (result == PassResult::kIdle) {
      result = PassResult::kPartial;
    }
  }
  return result;
}

Result<void> Processor::write_isolating(const log::Partition& partition,
                                        const log::ReadBatch& batch) {
  auto written = store_->write(kConsumer, partition, batch);
  if (written || written.error().code != Errc::kInvalidInput) return written;
  if (batch.records.size() <= 1) {
    if (!batch.records.empty()) {
      if (auto kept = dead_letter(partition, batch.records.front(), written.error().message);
          !kept) {
        return kept;
      }
    }
    // Past the event at fault: the offset alone.
    return store_->write(
        kConsumer, partition,
        log::ReadBatch{.next_offset = batch.next_offset, .skipped = batch.skipped});
  }
  const std::size_t half = batch.records.size() / 2;
  log::ReadBatch first{.records = {batch.records.begin(), batch.records.begin() + half},
                       .next_offset = batch.records[half].offset,
                       .skipped = batch.skipped};
  log::ReadBatch second{.records = {batch.records.begin() + half, batch.records.end()},
                        .next_offset = batch.next_offset};
  if (auto r = write_isolating(partition, first); !r) return r;
  return write_isolating(partition, second);
}

Result<void> Processor::dead_letter(const log::Partition& partition,
                                    const log::StoredRecord& record, const std::string& reason) {
  refused_.fetch_add(1, std::memory_order_relaxed);
  auto target = dead_letters_.find(partition.stream);
  if (target == dead_letters_.end()) {
    logger("processor")
        ->error(
            "store refused stream={} offset={} and the stream has no dead_letter stream: "
            "skipped reason=\"{}\"",
            partition.stream, record.offset, reason);
    return boost::outcome_v2::success();
  }
  logger("processor")
      ->warn("store refused stream={} offset={}: dead-lettered reason=\"{}\"", partition.stream,
             record.offset, reason);
  const std::int64_t now = now_ms();
  std::string payload = "{\"stream\":";
  append_json_string(payload, partition.stream);
  payload += ",\"sink\":\"store\",\"error\":";
  append_json_string(payload, reason);
  payload += fmt::format(",\"offset\":{},\"event\":", record.offset);
  if (auto event = decode_event(record.bytes)) {
    // As text: what the store could not take may be what would spoil a JSON reader too.
    append_json_string(payload, event->payload);
  } else {
    payload += "null";
  }
  payload += '}';
  // The same refusal again after a crash before the offset was stored: the same id, kept once.
  const std::string id =
      fmt::format("store:{}:{}:{}", partition.stream, partition.index, record.offset);
  const StreamConfig& dead = target->second;
  std::vector<log::RecordBatch> batches(std::max<std::uint32_t>(dead.partitions, 1));
  EventView view{
      .id = id, .ts_ms = now, .received_at_ms = now, .type = partition.stream, .payload = payload};
  batches[log::partition_for(id, static_cast<std::uint32_t>(batches.size()))].add(view);
  std::promise<Result<void>> done;
  auto future = done.get_future();
  log::append_partitions(log_, dead.name, std::move(batches),
                         [&done](Result<void> result) { done.set_value(std::move(result)); });
  return future.get();
}

}  // namespace sluice
