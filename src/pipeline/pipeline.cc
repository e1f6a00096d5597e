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
      write_latency_(std::make_unique<metrics::Histogram[]>(sinks_.size())) {
  status_.name = config_.name;
  status_.from = config_.from;
  status_.to = config_.to;
  status_.state = "starting";
  // Nothing is deleted under log.retention_policy protect until the committed positions are
  // known.
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      log_.hold(group(), log::Partition(stream, p), 0);
  }
}

Pipeline::~Pipeline() {
  stop();
}

void Pipeline::start() {
  // The log positions first, before the server takes requests: `start: latest` means the end
  // of the log as it is now, not whenever the thread gets to it. A failure is retried there.
  log_positions_loaded_ = static_cast<bool>(load_log_positions());
  start_thread("sluice-pipe");
}

PipelineStatus Pipeline::status() const {
  std::lock_guard lock(mutex_);
  PipelineStatus status = status_;
  status.lag = log::lag(log_, positions_);
  if (status.lag > 0) {
    const std::int64_t since = std::max(newest_read_received_ms_, caught_up_ms_);
    status.lag_seconds = static_cast<double>(std::max<std::int64_t>(now_ms() - since, 0)) / 1000;
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    status.sinks.push_back({sinks_[i].name, write_latency_[i].snapshot()});
  return status;
}

void Pipeline::set_state(const char* state, const std::string& error) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  if (!error.empty()) status_.last_error = redact_urls(error);
}

Result<void> Pipeline::load_positions() {
  if (!log_positions_loaded_) {
    if (auto loaded = load_log_positions(); !loaded) return loaded.error();
    log_positions_loaded_ = true;
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    auto stored = sinks_[i].sink->stored_positions(config_.name);
    if (!stored) return stored.error();
    if (stored.value()) sink_stored_[i] = std::move(*stored.value());
  }
  return boost::outcome_v2::success();
}

Result<void> Pipeline::load_log_positions() {
  const std::string group = this->group();
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      log::Partition partition(stream, p);
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
      std::lock_guard lock(mutex_);
      positions_[partition] = position;
    }
  }
  return boost::outcome_v2::success();
}

void Pipeline::run() {
  auto logger = sluice::logger("pipeline");
  std::chrono::milliseconds backoff{0};
  for (;;) {
    auto loaded = load_positions();
    if (loaded) break;
    backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
    logger->error("pipeline={} cannot load its positions error=\"{}\" retry_in_ms={}", config_.name,
                  loaded.error().message, backoff.count());
    set_state("retrying", loaded.error().message);
    if (pause(backoff)) return;
  }
  set_state("running");
  logger->info("pipeline={} started from={} sinks={}", config_.name, fmt::join(config_.from, ","),
               sinks_.size());
  for (;;) {
    const auto [stopping, seen] = poll();
    if (stopping) break;
    auto pass = process_once();
    if (!pass) {
      backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
      logger->error("pipeline={} error=\"{}\" retry_in_ms={}", config_.name, pass.error().message,
                    backoff.count());
      set_state("retrying", pass.error().message);
      if (pause(backoff)) break;
      continue;
    }
    backoff = std::chrono::milliseconds{0};
    if (pass.value() == Pass::kFull) continue;
    if (pass.value() == Pass::kPartial) {
      // Let the next batch fill for a moment (batch.max_wait).
      pause(config_.batch.max_wait);
      continue;
    }
    wait_for_news(seen, std::chrono::seconds(1));
  }
  set_state("stopped");
}

Result<Pipeline::Pass> Pipeline::process_once() {
  Pass result = Pass::kIdle;
  std::vector<log::Partition> partitions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [partition, position] : positions_)
      partitions.push_back(partition);
  }
  for (const auto& partition : partitions) {
    auto pass = process_partition(partition);
    if (!pass) return pass.error();
    result = std::max(result, pass.value());
    if (stopping()) break;
  }
  return result;
}

Result<Pipeline::Pass> Pipeline::process_partition(const log::Partition& partition) {
  log::Offset from;
  {
    std::lock_guard lock(mutex_);
    from = positions_[partition];
  }
  const auto max_events = static_cast<std::size_t>(config_.batch.max_events);
  auto read = log_.read(partition, from, max_events);
  if (!read) return read.error();
  log::ReadBatch& batch = read.value();
  if (batch.records.empty()) {
    std::lock_guard lock(mutex_);
    caught_up_ms_ = now_ms();
    return Pass::kIdle;
  }

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
  kept.reserve(events.size());
  for (auto& event : events) {
    bool keep = true;
    for (auto& step : steps_) {
      if (!step->apply(event)) {
        keep = false;
        break;
      }
    }
    if (keep) {
      kept.push_back(&event);
    } else {
      ++dropped;
    }
  }

  std::uint64_t delivered = 0;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    SinkBatch out{.consumer = config_.name, .records = {}, .next = {{partition, next}}};
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
    if (!deliver(i, out)) return Pass::kIdle;  // stopping: the batch is redone next time
    delivered += out.records.size();
  }
  if (auto committed = log_.commit(group(), partition, next); !committed) {
    return committed.error();
  }
  log_.hold(group(), partition, next);
  log_.report_skipped(group(), partition, from, batch.skipped);
  std::lock_guard lock(mutex_);
  positions_[partition] = next;
  status_.skipped += batch.skipped;
  status_.read += events.size();
  status_.dropped += dropped;
  status_.delivered += delivered;
  if (!events.empty()) {
    newest_read_received_ms_ =
        std::max(newest_read_received_ms_, events.back().envelope().received_at_ms);
  }
  if (status_.state != "running") status_.state = "running";
  return full ? Pass::kFull : Pass::kPartial;
}

bool Pipeline::deliver(std::size_t sink_index, const SinkBatch& batch) {
  auto logger = sluice::logger("pipeline");
  auto& slot = sinks_[sink_index];
  std::chrono::milliseconds backoff{0};
  static thread_local std::mt19937 jitter_source{std::random_device{}()};
  for (;;) {
    const auto write_started = std::chrono::steady_clock::now();
    WriteOutcome outcome = slot.sink->write(batch);
    write_latency_[sink_index].observe_since(write_started);
    // Reasons are shown (status, logs, dead letters): a URL in one may carry a secret.
    outcome.reason = redact_urls(outcome.reason);
    switch (outcome.status) {
      case WriteOutcome::Status::kDelivered:
        if (backoff.count() > 0) {
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
        auto kept = dead_letter(batch, slot.name, outcome.reason);
        if (!kept) {
          outcome = WriteOutcome::retry("dead-letter append failed: " + kept.error().message);
          break;  // retried below, so nothing is lost
        }
        std::lock_guard lock(mutex_);
        status_.dead_lettered += batch.records.size();
        status_.last_error = slot.name + ": " + outcome.reason;
        return true;
      }
      case WriteOutcome::Status::kRetry:
        break;
    }
    // Exponential backoff with jitter, or the sink's own hint when it gave one.
    backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
    std::uniform_int_distribution<std::int64_t> jitter(0, backoff.count() / 2);
    const auto wait = outcome.retry_after.count() > 0
                          ? outcome.retry_after
                          : backoff / 2 + std::chrono::milliseconds(jitter(jitter_source));
    {
      std::lock_guard lock(mutex_);
      status_.state = "retrying";
      status_.last_error = slot.name + ": " + outcome.reason;
      ++status_.retries;
      // Once per outage and then once a minute: an outage must not flood the log.
      const auto now = std::chrono::steady_clock::now();
      if (backoff == kFirstBackoff || now - last_error_logged_ >= kErrorLogInterval) {
        last_error_logged_ = now;
        logger->error("pipeline={} sink={} not delivered, retrying reason=\"{}\" retry_in_ms={}",
                      config_.name, slot.name, outcome.reason, wait.count());
      }
    }
    if (pause(wait)) return false;
  }
}

Result<void> Pipeline::dead_letter(const SinkBatch& batch, const std::string& sink,
                                   const std::string& reason) {
  if (!dead_letter_) {
    sluice::logger("pipeline")
        ->error(
            "pipeline={} sink={} events={} dropped: rejected and the pipeline has no "
            "dead_letter stream reason=\"{}\"",
            config_.name, sink, batch.records.size(), reason);
    return boost::outcome_v2::success();
  }
  const std::int64_t now = now_ms();
  std::vector<log::RecordBatch> batches(std::max<std::uint32_t>(dead_letter_->partitions, 1));
  for (const auto& record : batch.records) {
    std::string payload = "{\"pipeline\":";
    append_json_string(payload, config_.name);
    payload += ",\"sink\":";
    append_json_string(payload, sink);
    payload += ",\"error\":";
    append_json_string(payload, reason);
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

Result<std::unique_ptr<Pipeline>> build_pipeline(const PipelineConfig& pipeline,
                                                 const Config& config, log::Log& log) {
  std::vector<Pipeline::SinkSlot> sinks;
  for (const auto& name : pipeline.to) {
    const ComponentConfig& sink = config.sinks.at(name);
    const auto* kind = components::find_sink_kind(sink.kind);
    if (!kind) return make_error(Errc::kInvalidInput, "unknown sink kind " + sink.kind);
    SinkContext context{
        .name = name, .data_dir = config.storage.data_dir, .log = &log, .upsert = pipeline.upsert};
    auto opened = kind->open(context, sink.settings.get());
    if (!opened) {
      return make_error(opened.error().code,
                        fmt::format("sinks.{}: {}", name, opened.error().message));
    }
    sinks.push_back({name, std::move(opened.value())});
  }
  TransformContext context{.pipeline = pipeline.name, .sinks = pipeline.to};
  std::vector<std::unique_ptr<Transform>> steps;
  for (std::size_t i = 0; i < pipeline.steps.size(); ++i) {
    const ComponentConfig& step = pipeline.steps[i];
    const auto* kind = components::find_transform_kind(step.kind);
    if (!kind) return make_error(Errc::kInvalidInput, "unknown step kind " + step.kind);
    auto built = kind->build(context, step.settings.get());
    if (!built) {
      return make_error(built.error().code,
                        fmt::format("pipelines.{}.steps[{}].{}: {}", pipeline.name, i, step.kind,
                                    built.error().message));
    }
    steps.push_back(std::move(built.value()));
  }
  std::optional<StreamConfig> dead_letter;
  if (!pipeline.dead_letter.empty()) dead_letter = config.streams.at(pipeline.dead_letter);
  return std::make_unique<Pipeline>(pipeline, log, std::move(sinks), std::move(steps), dead_letter);
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

std::string statuses_json(const std::vector<PipelineStatus>& statuses) {
  auto list = [](std::string& out, const std::vector<std::string>& names) {
    out += '[';
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out += ',';
      append_json_string(out, names[i]);
    }
    out += ']';
  };
  std::string out = "{\"pipelines\":[";
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    const auto& s = statuses[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, s.name);
    out += ",\"state\":";
    append_json_string(out, s.state);
    out += ",\"from\":";
    list(out, s.from);
    out += ",\"to\":";
    list(out, s.to);
    out += fmt::format(
        ",\"lag\":{},\"read\":{},\"dropped\":{},\"delivered\":{},\"dead_lettered\":{},"
        "\"retries\":{},\"skipped\":{},\"last_error\":",
        s.lag, s.read, s.dropped, s.delivered, s.dead_lettered, s.retries, s.skipped);
    if (s.last_error.empty()) {
      out += "null";
    } else {
      append_json_string(out, s.last_error);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

Result<std::unique_ptr<PipelineSet>> PipelineSet::build(const Config& config, log::Log& log) {
  auto set = std::unique_ptr<PipelineSet>(new PipelineSet(log));
  for (const auto& [name, pipeline] : config.pipelines) {
    auto built = build_pipeline(pipeline, config, log);
    if (!built) return built.error();
    set->pipelines_.emplace(name, std::move(built.value()));
  }
  return set;
}

void PipelineSet::start() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->start();
  started_ = true;
}

void PipelineSet::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->stop();
  started_ = false;
}

void PipelineSet::notify() {
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : pipelines_)
    pipeline->notify();
}

std::vector<PipelineStatus> PipelineSet::statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<PipelineStatus> out;
  out.reserve(pipelines_.size());
  for (const auto& [name, pipeline] : pipelines_)
    out.push_back(pipeline->status());
  return out;
}

Result<PipelineSet::ReloadSummary> PipelineSet::reload(const Config& config) {
  const auto streams = log_.streams();
  auto known = [&](const std::string& stream) {
    return std::find(streams.begin(), streams.end(), stream) != streams.end();
  };
  for (const auto& [name, pipeline] : config.pipelines) {
    for (const auto& stream : pipeline.from) {
      if (!known(stream)) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("pipelines.{}: stream \"{}\" is not one this process runs; "
                                      "new streams need a restart",
                                      name, stream));
      }
    }
  }
  // Build everything new first: a sink that cannot open refuses the whole reload.
  ReloadSummary summary;
  std::map<std::string, std::unique_ptr<Pipeline>> fresh;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, pipeline] : config.pipelines) {
      auto running = pipelines_.find(name);
      if (running != pipelines_.end() && running->second->config().source == pipeline.source) {
        summary.unchanged.push_back(name);
        continue;
      }
      auto built = build_pipeline(pipeline, config, log_);
      if (!built) return built.error();
      fresh.emplace(name, std::move(built.value()));
      (running == pipelines_.end() ? summary.added : summary.changed).push_back(name);
    }
    for (const auto& [name, pipeline] : pipelines_) {
      if (!config.pipelines.contains(name)) summary.removed.push_back(name);
    }
  }
  // Stop the removed and changed ones (each after its batch in progress), outside the lock so
  // that status requests are answered meanwhile.
  std::vector<std::unique_ptr<Pipeline>> retired;
  {
    std::lock_guard lock(mutex_);
    for (const auto& name : summary.removed) {
      retired.push_back(std::move(pipelines_.at(name)));
      pipelines_.erase(name);
    }
    for (const auto& name : summary.changed) {
      retired.push_back(std::move(pipelines_.at(name)));
      pipelines_.erase(name);
    }
  }
  retired.clear();  // stops them
  for (const auto& name : summary.removed)
    log_.release("pipeline." + name);  // no longer holds back retention
  std::lock_guard lock(mutex_);
  for (auto& [name, pipeline] : fresh) {
    if (started_) pipeline->start();
    pipelines_.emplace(name, std::move(pipeline));
  }
  return summary;
}

}  // namespace sluice::pipeline
