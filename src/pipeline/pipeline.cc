#include "pipeline/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <random>

#include "components/registry.h"
#include "core/json_text.h"
#include "core/logging.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/uuid.h"
#include "pipeline/event_json.h"
#include "pipeline/pipeline_event.h"

namespace sluice::pipeline {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kErrorLogInterval{60};

consume::Options options_of(const PipelineConfig& config) {
  return {.name = "pipeline." + config.name,
          .who = "pipeline=" + config.name,
          .logger = "pipeline",
          .thread = "sluice-pipe",
          .streams = config.from,
          .batch_events = static_cast<std::size_t>(config.batch.max_events),
          .linger = config.batch.max_wait,
          // Behind the log, like the store writer: under load the CPU goes to taking posts.
          .nice = 5,
          // Processes that run the pipeline share out its partitions (on Kafka).
          .group = "pipeline." + config.name};
}

}  // namespace

Pipeline::Pipeline(PipelineConfig config, log::Log& log, std::vector<SinkSlot> sinks,
                   std::vector<std::unique_ptr<Transform>> steps,
                   std::optional<StreamConfig> dead_letter)
    : config_(std::move(config)),
      log_(log),
      sinks_(std::move(sinks)),
      steps_(std::move(steps)),
      dead_letter_(std::move(dead_letter)),
      sink_stored_(sinks_.size()),
      write_latency_(std::make_unique<metrics::Histogram[]>(sinks_.size())),
      consumer_(options_of(config_), log, *this) {}

Pipeline::~Pipeline() {
  consumer_.stop();
}

PipelineStatus Pipeline::status() const {
  const auto progress = consumer_.progress();
  std::lock_guard lock(mutex_);
  PipelineStatus status = counts_;
  status.name = config_.name;
  status.from = config_.from;
  status.to = config_.to;
  consume::copy_progress(progress, status);
  status.lag = consumer_.lag().value_or(0);
  status.group = consumer_.group();
  if (status.lag > 0) {
    const std::int64_t since = std::max(newest_read_received_ms_, caught_up_ms_);
    status.lag_seconds = static_cast<double>(std::max<std::int64_t>(now_ms() - since, 0)) / 1000;
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    status.sinks.push_back({sinks_[i].name, write_latency_[i].snapshot()});
  return status;
}

// The log positions before the server takes requests: `start: latest` means the end of the
// log as it is now, not whenever the thread gets to it. A failure is retried by restore().
std::optional<consume::Positions> Pipeline::prepare() {
  std::vector<log::Partition> all;
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      all.emplace_back(stream, p);
  }
  if (auto loaded = load_log_positions(all)) log_positions_ = std::move(loaded.value());
  return log_positions_;
}

Result<consume::Positions> Pipeline::restore(const std::vector<log::Partition>& partitions) {
  consume::Positions positions;
  if (log_positions_) {
    positions = std::move(*log_positions_);
    // Once: partitions assigned later (a consumer group) start where the group committed.
    log_positions_.reset();
  } else {
    auto loaded = load_log_positions(partitions);
    if (!loaded) return loaded.error();
    positions = std::move(loaded.value());
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    auto stored = sinks_[i].sink->claim(group(), partitions);
    if (!stored) return stored.error();
    if (stored.value()) {
      for (auto& [partition, position] : *stored.value())
        sink_stored_[i].insert_or_assign(partition, position);
    }
  }
  return positions;
}

Result<consume::Positions> Pipeline::load_log_positions(
    const std::vector<log::Partition>& partitions) {
  const std::string group = this->group();
  consume::Positions positions;
  for (const auto& partition : partitions) {
    auto committed = log_.committed(group, partition);
    if (!committed) return committed.error();
    log::Offset position;
    if (committed.value()) {
      position = *committed.value();
    } else {
      // A new pipeline: from the start of the log, or from now on. Committed at once, so a
      // restart goes on from here rather than from a later "now".
      position = config_.start == "latest" ? log_.end_offset(partition) : 0;
      if (auto saved = log_.commit(group, partition, position); !saved) return saved.error();
    }
    log_.hold(group, partition, position);
    positions[partition] = position;
  }
  return positions;
}

void Pipeline::started() {
  sluice::logger("pipeline")
      ->info("pipeline={} started from={} sinks={}", config_.name, fmt::join(config_.from, ","),
             sinks_.size());
}

void Pipeline::nothing_new(const log::Partition&, log::Offset) {
  std::lock_guard lock(mutex_);
  caught_up_ms_ = now_ms();
}

Result<consume::Handled> Pipeline::handle(const log::Partition& partition, log::Offset from,
                                          const log::ReadBatch& batch) {
  const auto max_events = static_cast<std::size_t>(config_.batch.max_events);
  // Decode, bounded by batch.max_bytes (at least one event).
  std::vector<PipelineEvent> events;
  events.reserve(batch.records.size());
  std::uint64_t bytes = 0;
  log::Offset next = batch.next_offset;
  for (const auto& record : batch.records) {
    if (!events.empty() && bytes + record.bytes.size() > config_.batch.max_bytes) {
      next = record.offset;
      break;
    }
    auto event = decode_event(record.bytes);
    if (!event) {
      return make_error(Errc::kCorrupt,
                        fmt::format("undecodable record {}/{} at offset {}", partition.stream,
                                    partition.index, record.offset));
    }
    bytes += record.bytes.size();
    events.emplace_back(partition.stream, partition.index, record.offset, *event);
  }
  const bool full = events.size() >= max_events || next != batch.next_offset;

  std::uint64_t dropped = 0;
  std::vector<PipelineEvent*> kept;
  std::vector<std::pair<PipelineEvent*, std::size_t>> failed;
  Made made;
  kept.reserve(events.size());
  for (auto& event : events)
    run_steps(event, 0, kept, failed, dropped, made);
  // Events a step failed on are kept in the dead letters before anything is delivered: if that
  // fails, the batch is handled again from the start.
  if (!failed.empty()) {
    std::vector<SinkRecord> records;
    std::vector<std::string> names;
    std::vector<std::string_view> reasons;
    for (auto [event, step] : failed) {
      records.push_back({partition.stream, partition.index, event->offset(), event->envelope()});
      names.push_back(fmt::format("steps[{}].{}", step, config_.steps.at(step).kind));
      reasons.push_back(*event->failure());
      consumer_.note_error(names.back() + ": " + *event->failure());
    }
    if (auto kept_failed = dead_letter(records, "step", names, reasons); !kept_failed) {
      return kept_failed.error();
    }
    std::lock_guard lock(mutex_);
    counts_.dead_lettered += failed.size();
  }

  std::uint64_t delivered = 0;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    SinkBatch out{.consumer = group(), .records = {}, .next = {{partition, next}}};
    const auto stored = sink_stored_[i].find(partition);
    const log::Offset already = stored == sink_stored_[i].end() ? 0 : stored->second;
    for (auto* event : kept) {
      if (!(event->sinks & (std::uint64_t{1} << i)) || event->offset() < already) continue;
      EventView view = event->envelope();
      view.payload = event->payload();
      out.records.push_back({partition.stream, partition.index, event->offset(), view});
    }
    if (out.records.empty() && !sinks_[i].sink->transactional()) continue;
    if (out.records.empty() && next <= already) continue;
    // Stopping: the batch is done again next time. Fenced off: the partition is another
    // process's now; the consumer backs off and hears so from the group.
    if (!deliver(i, out)) {
      if (fenced_) return make_error(Errc::kUnavailable, *std::exchange(fenced_, std::nullopt));
      return consume::Handled{.next = from, .full = false};
    }
    delivered += out.records.size();
  }
  if (auto committed = log_.commit(group(), partition, next); !committed) {
    return committed.error();
  }
  std::lock_guard lock(mutex_);
  counts_.dropped += dropped;
  counts_.delivered += delivered;
  if (!events.empty()) {
    newest_read_received_ms_ =
        std::max(newest_read_received_ms_, events.back().envelope().received_at_ms);
  }
  return consume::Handled{.next = next, .full = full};
}

void Pipeline::run_steps(PipelineEvent& event, std::size_t first, std::vector<PipelineEvent*>& kept,
                         std::vector<std::pair<PipelineEvent*, std::size_t>>& failed,
                         std::uint64_t& dropped, Made& made) {
  for (std::size_t i = first; i < steps_.size(); ++i) {
    if (!steps_[i]->apply(event)) {
      if (event.failure()) {
        failed.emplace_back(&event, i);
      } else {
        ++dropped;
      }
      return;
    }
    if (event.spawned.empty()) continue;
    auto spawned = std::exchange(event.spawned, {});
    run_steps(event, i + 1, kept, failed, dropped, made);
    for (std::size_t n = 0; n < spawned.size(); ++n) {
      made.ids.push_back(fmt::format("{}#{}", event.envelope().id, n + 2));
      EventView envelope = event.envelope();
      envelope.id = made.ids.back();
      made.events.emplace_back(event.stream(), event.partition(), event.offset(), envelope,
                               std::move(spawned[n]));
      made.events.back().sinks = event.sinks;  // the steps before chose for it too
      run_steps(made.events.back(), i + 1, kept, failed, dropped, made);
    }
    return;
  }
  kept.push_back(&event);
}

bool Pipeline::deliver(std::size_t sink_index, const SinkBatch& batch) {
  auto logger = sluice::logger("pipeline");
  auto& slot = sinks_[sink_index];
  consume::Backoff backoff(kFirstBackoff, kMaxBackoff);
  static thread_local std::mt19937 jitter_source{std::random_device{}()};
  for (;;) {
    const auto write_started = std::chrono::steady_clock::now();
    WriteOutcome outcome = slot.sink->write(batch);
    write_latency_[sink_index].observe_since(write_started);
    // Reasons are shown (status, logs, dead letters): a URL in one may carry a secret.
    outcome.reason = redact_urls(outcome.reason);
    switch (outcome.status) {
      case WriteOutcome::Status::kDelivered:
        if (backoff.current().count() > 0) {
          logger->info("pipeline={} sink={} delivering again", config_.name, slot.name);
        }
        return true;
      case WriteOutcome::Status::kRejected: {
        if (outcome.split && batch.records.size() > 1) {
          // Halves until the events at fault are alone: one bad event costs one event.
          auto [first, second] = split_in_half(batch);
          logger->debug("pipeline={} sink={} rejected events={}, splitting reason=\"{}\"",
                        config_.name, slot.name, batch.records.size(), outcome.reason);
          return deliver(sink_index, first) && deliver(sink_index, second);
        }
        logger->warn("pipeline={} sink={} rejected events={} reason=\"{}\"", config_.name,
                     slot.name, batch.records.size(), outcome.reason);
        auto kept = dead_letter(batch.records, "sink", {slot.name}, {outcome.reason});
        if (!kept) {
          outcome = WriteOutcome::retry("dead-letter append failed: " + kept.error().message);
          break;  // retried below, so nothing is lost
        }
        consumer_.note_error(slot.name + ": " + outcome.reason);
        std::lock_guard lock(mutex_);
        counts_.dead_lettered += batch.records.size();
        return true;
      }
      case WriteOutcome::Status::kRetry:
        if (outcome.fenced) {
          fenced_ = slot.name + ": " + outcome.reason;
          return false;
        }
        break;
    }
    // Exponential backoff with jitter, or the sink's own hint when it gave one.
    const auto step = backoff.next();
    std::uniform_int_distribution<std::int64_t> jitter(0, step.count() / 2);
    const auto wait = outcome.retry_after.count() > 0
                          ? outcome.retry_after
                          : step / 2 + std::chrono::milliseconds(jitter(jitter_source));
    consumer_.set_state("retrying", slot.name + ": " + outcome.reason);
    {
      std::lock_guard lock(mutex_);
      ++counts_.retries;
      // Once per outage and then once a minute: an outage must not flood the log.
      const auto now = std::chrono::steady_clock::now();
      if (backoff.first_failure() || now - last_error_logged_ >= kErrorLogInterval) {
        last_error_logged_ = now;
        logger->error("pipeline={} sink={} not delivered, retrying reason=\"{}\" retry_in_ms={}",
                      config_.name, slot.name, outcome.reason, wait.count());
      }
    }
    if (consumer_.pause(wait)) return false;
  }
}

Result<void> Pipeline::dead_letter(const std::vector<SinkRecord>& records, std::string_view place,
                                   const std::vector<std::string>& names,
                                   const std::vector<std::string_view>& reasons) {
  auto reason = [&](std::size_t i) { return reasons.size() == 1 ? reasons[0] : reasons[i]; };
  auto name = [&](std::size_t i) -> std::string_view {
    return names.size() == 1 ? names[0] : names[i];
  };
  if (!dead_letter_) {
    for (std::size_t i = 0; i < records.size(); ++i) {
      sluice::logger("pipeline")
          ->error(
              "pipeline={} {}={} id={} dropped: {} and the pipeline has no dead_letter stream "
              "reason=\"{}\"",
              config_.name, place, name(i), records[i].event.id,
              place == "sink" ? "rejected" : "failed", reason(i));
      if (reasons.size() == 1) break;  // one line per batch
    }
    return boost::outcome_v2::success();
  }
  const std::int64_t now = now_ms();
  std::vector<log::RecordBatch> batches(std::max<std::uint32_t>(dead_letter_->partitions, 1));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& record = records[i];
    std::string payload = "{\"pipeline\":";
    append_json_string(payload, config_.name);
    payload += ",\"stream\":";  // the event's stream, as the collector's dead letters say it
    append_json_string(payload, record.stream);
    payload += fmt::format(",\"{}\":", place);
    append_json_string(payload, name(i));
    payload += ",\"error\":";
    append_json_string(payload, reason(i));
    payload += fmt::format(",\"offset\":{},\"event\":", record.offset);
    append_event_json(payload, record);
    payload += '}';
    const std::string id = uuid_v7(now);
    EventView event{
        .id = id, .ts_ms = now, .received_at_ms = now, .type = record.stream, .payload = payload};
    batches[log::partition_for(id, static_cast<std::uint32_t>(batches.size()))].add(event);
  }
  std::promise<Result<void>> done;
  auto future = done.get_future();
  log::append_partitions(log_, dead_letter_->name, std::move(batches),
                         [&done](Result<void> result) { done.set_value(std::move(result)); });
  return future.get();
}

std::pair<SinkBatch, SinkBatch> split_in_half(const SinkBatch& batch) {
  const auto middle = batch.records.begin() + static_cast<std::ptrdiff_t>(batch.records.size() / 2);
  SinkBatch first{batch.consumer, {batch.records.begin(), middle}, batch.next};
  SinkBatch second{batch.consumer, {middle, batch.records.end()}, batch.next};
  for (const auto& record : second.records) {
    const log::Partition partition(std::string(record.stream), record.partition);
    auto [next, inserted] = first.next.try_emplace(partition, record.offset);
    if (!inserted) next->second = std::min(next->second, record.offset);
  }
  return {std::move(first), std::move(second)};
}

}  // namespace sluice::pipeline
