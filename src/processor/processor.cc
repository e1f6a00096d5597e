#include "processor/processor.h"

#include <fmt/format.h>

#include <chrono>
#include <future>

#include "core/event.h"
#include "core/json_text.h"
#include "core/logging.h"
#include "core/time.h"

namespace sluice {

namespace {

consume::Options options_of(const log::Log& log, const StoreConfig& config) {
  return {.name = Processor::kConsumer,
          .who = "store",
          .logger = "processor",
          .thread = "sluice-store",
          .streams = log.streams(),
          .batch_events = static_cast<std::size_t>(config.batch_max_events),
          // Let the next batch fill for a moment: one transaction of many events costs far
          // less than many of a few.
          .linger = config.batch_max_wait,
          .backoff = consume::Backoff(std::chrono::milliseconds(50), std::chrono::seconds(5)),
          .pass_failure = "write failed",
          // Ingest answers clients; the store can catch up. Under full load the collector's
          // threads get the CPU first (this one still gets its share, only later).
          .nice = 5,
          // Processes that write one PostgreSQL store share out the partitions (on Kafka); a
          // SQLite store is the process's own, and has every event.
          .group = config.url.empty() ? "" : Processor::kConsumer};
}

}  // namespace

Processor::Processor(log::Log& log, const StoreConfig& config,
                     std::unique_ptr<store::StoreWriter> store,
                     std::map<std::string, StreamConfig> dead_letters)
    : log_(log),
      store_(std::move(store)),
      dead_letters_(std::move(dead_letters)),
      batch_max_events_(static_cast<std::size_t>(config.batch_max_events)),
      consumer_(options_of(log, config), log, *this) {}

Processor::~Processor() {
  consumer_.stop();
}

std::map<log::Partition, log::Offset> Processor::positions() const {
  return consumer_.positions();
}

std::map<log::Partition, std::uint64_t> Processor::stored() const {
  auto out = consumer_.positions();
  std::lock_guard lock(mutex_);
  for (auto& [partition, position] : out) {
    const auto skipped = skipped_.find(partition);
    position -= skipped == skipped_.end() ? 0 : skipped->second;
  }
  return out;
}

std::string Processor::failing() const {
  auto progress = consumer_.progress();
  return progress.state == "retrying" ? progress.last_error : "";
}

// The store's own positions and statistics, read on the consumer's thread: a store that is
// not reachable yet does not stop the process starting.
Result<consume::Positions> Processor::restore(const std::vector<log::Partition>& partitions) {
  if (auto prepared = store_->prepare_statistics(log_.streams()); !prepared) {
    return prepared.error();
  }
  statistics_ready_ = true;
  // Taken over: a process that held them before writes them no more (store_writer.h).
  auto committed = store_->claim(kConsumer, partitions);
  if (!committed) return committed.error();
  auto skipped = store_->skipped(kConsumer);
  if (!skipped) return skipped.error();
  std::lock_guard lock(mutex_);
  skipped_ = std::move(skipped.value());
  return std::move(committed.value());
}

Result<consume::Handled> Processor::handle(const log::Partition& partition, log::Offset,
                                           const log::ReadBatch& batch) {
  if (auto written = write_isolating(partition, batch); !written) return written.error();
  std::lock_guard lock(mutex_);
  skipped_[partition] += batch.skipped;
  return consume::Handled{.next = batch.next_offset,
                          .full = batch.records.size() >= batch_max_events_};
}

Result<void> Processor::write_isolating(const log::Partition& partition,
                                        const log::ReadBatch& batch) {
  auto written = store_->write(kConsumer, partition, batch);
  // Refused for what the batch holds: the events at fault are found by halves.
  if (written || written.error().fault != Fault::kData) return written;
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
