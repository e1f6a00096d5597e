#include "windows/window_job.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <filesystem>

#include "core/json_write.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "core/time.h"
#include "pipeline/field_path.h"
#include "pipeline/message_template.h"
#include "pipeline/pipeline_event.h"
#include "windows/late_event.h"
#include "windows/window_spec.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

constexpr std::size_t kReadBatch = 2000;
// Alerts carry the smallest this many ids of their window's events.
constexpr std::size_t kAlertEventIds = 20;

// The results as stored and served: without the ids sampled for alerts.
void drop_event_ids(std::vector<WindowResult>& results) {
  for (auto& r : results)
    r.values.erase(kEventIds);
}

std::string partition_name(const log::Partition& p) {
  return fmt::format("{}/{}", p.stream, p.index);
}

consume::Options options_of(const WindowConfig& config, const std::string& store_path) {
  return {.name = "windows." + config.name,
          .who = "window=" + config.name,
          .logger = "windows",
          .thread = "sluice-window",
          .streams = config.from,
          .batch_events = kReadBatch,
          // Nothing to read: wait for new events, the next checkpoint or the idle timeout.
          .quiet_wait =
              std::min<std::chrono::milliseconds>(config.checkpoint_every, std::chrono::seconds(1)),
          // What was read since the last checkpoint that made it is read again.
          .restore_after_failed_checkpoint = true,
          .commits_per_batch = false,
          // Partitions can move between processes only with their state in PostgreSQL.
          .group = is_postgres_url(store_path) ? "windows." + config.name : ""};
}

}  // namespace

WindowJob::WindowJob(WindowConfig config, log::Log& log, std::string store_path,
                     std::optional<StreamConfig> late_stream, std::vector<AlertRule> rules,
                     std::optional<StreamConfig> results_stream)
    : config_(std::move(config)),
      log_(log),
      store_path_(std::move(store_path)),
      late_stream_(std::move(late_stream)),
      rules_(std::move(rules)),
      results_stream_(std::move(results_stream)),
      spec_(spec_of(config_)),
      definition_(config_.source),
      operator_(std::in_place, spec_),
      consumer_(options_of(config_, store_path_), log, *this) {
  for (const auto& rule : rules_)
    status_.alerts_by_rule[rule.name] = 0;  // a counter shows from 0, before its first alert
  if (!rules_.empty()) {
    spec_.aggregates.push_back({.name = std::string(kEventIds),
                                .kind = AggregateKind::kCollectSet,
                                .limit = kAlertEventIds,
                                .of_event_ids = true});
    definition_ += "\n+event ids for alerts";
    operator_.emplace(spec_);
  }
  if (!config_.filter.empty()) {
    filter_.emplace(expr::Expression::parse(config_.filter).value());
  } else {
    std::vector<std::string> used = spec_.key_fields;
    for (const auto& aggregate : spec_.aggregates) {
      if (!aggregate.field.empty()) used.push_back(aggregate.field);
    }
    projection_.emplace(used);
  }
  status_.name = config_.name;
  status_.from = config_.from;
}

WindowJob::~WindowJob() {
  consumer_.stop();
}

WindowStatus WindowJob::status() const {
  const auto progress = consumer_.progress();
  std::lock_guard lock(mutex_);
  WindowStatus s = status_;
  consume::copy_progress(progress, s);
  s.pending_results += writing_results_;
  s.lag = consumer_.lag();
  s.group = consumer_.group();
  return s;
}

Result<consume::Positions> WindowJob::restore(const std::vector<log::Partition>& partitions) {
  grouped_ = consumer_.group().has_value();
  if (grouped_) return restore_held(partitions);
  if (!store_) {
    try {
      store_ = open_window_store(store_path_);
    } catch (const std::exception& e) {
      return make_error(Errc::kUnavailable, e.what());
    }
  }
  auto loaded = store_->load(config_.name);
  if (!loaded) return loaded.error();
  // Everything since the checkpoint is made again by reading on from it.
  operator_.emplace(spec_);
  pending_.clear();
  outbox_ = consume::Outbox();
  fired_.clear();
  dirty_ = early_dirty_ = false;
  std::map<log::Partition, log::Offset> positions;
  if (loaded.value() && loaded.value()->definition == definition_) {
    boost::system::error_code ec;
    auto state = json::parse(loaded.value()->state, ec);
    if (ec) return make_error(Errc::kCorrupt, "windows.db: unreadable state of " + config_.name);
    auto restored = WindowOperator::load(spec_, state);
    if (!restored) return restored.error();
    operator_.emplace(std::move(restored.value()));
    positions = loaded.value()->positions;
    // A checkpoint from before event times were bounded may hold a watermark years ahead.
    if (!max_future_ms_.empty()) {
      std::int64_t most = 0;
      for (const auto& [stream, ms] : max_future_ms_)
        most = std::max(most, ms);
      if (operator_->cap_event_time(now_ms() + most)) {
        logger("windows")->warn(
            "window={} its checkpoint held event times more than max_future ahead: brought back "
            "to now + {} ms",
            config_.name, most);
      }
    }
  } else if (loaded.value()) {
    // Another definition's state and results cannot be carried over: start from the beginning.
    logger("windows")->warn(
        "window={} definition changed: its results are computed again from the start of the log",
        config_.name);
    if (auto forgotten = store_->forget(config_.name); !forgotten) return forgotten.error();
  }
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      last_event_[log::Partition(stream, p)] = std::chrono::steady_clock::now();
  }
  const auto now = std::chrono::steady_clock::now();
  next_checkpoint_ = now + config_.checkpoint_every;
  next_early_ = now + config_.early_updates;
  return positions;
}

void WindowJob::started() {
  logger("windows")->info("window={} started from={} kind={}", config_.name,
                          fmt::join(config_.from, ","), config_.kind);
}

WindowOperator& WindowJob::operator_for(const log::Partition& partition) {
  if (!grouped_) return *operator_;
  return *held_.at(partition).op;
}

void WindowJob::nothing_new(const log::Partition& partition, log::Offset from) {
  const std::string name = partition_name(partition);
  const auto now = std::chrono::steady_clock::now();
  WindowOperator& op = operator_for(partition);
  if (log_.end_offset(partition) > from) {
    // Events are there but not fetched yet (Kafka): not idle, and until this partition has
    // shown an event, nothing closes.
    op.hold(name);
    last_event_[partition] = now;
  } else if (now - last_event_[partition] >= config_.idle_timeout && !op.idle(name)) {
    // Nothing to read for idle_timeout: this partition stops holding the watermark back (in
    // a group, the others learn so from its next checkpoint).
    op.set_idle(name, true);
    dirty_ = true;
  }
}

Result<consume::Handled> WindowJob::handle(const log::Partition& partition, log::Offset,
                                           const log::ReadBatch& batch) {
  if (batch.records.empty()) return consume::Handled{.next = batch.next_offset, .full = false};
  const std::string name = partition_name(partition);
  last_event_[partition] = std::chrono::steady_clock::now();
  WindowOperator& op = operator_for(partition);
  std::uint64_t filtered = 0, late = 0;
  for (const auto& record : batch.records) {
    auto envelope = decode_event(record.bytes);
    if (!envelope) {
      return make_error(Errc::kCorrupt,
                        fmt::format("undecodable record {} at offset {}", name, record.offset));
    }
    // Records written before the collector bounded event times (or by other producers) are
    // bounded here: no event carries the watermark past its arrival + max_future.
    if (auto limit = max_future_ms_.find(partition.stream); limit != max_future_ms_.end()) {
      envelope->ts_ms = std::min(envelope->ts_ms, envelope->received_at_ms + limit->second);
    }
    pipeline::PipelineEvent event(partition.stream, partition.index, record.offset, *envelope);
    if (filter_ && !filter_->matches(event.json())) {
      op.observe(name, envelope->ts_ms);
      ++filtered;
      continue;
    }
    const json::value* fields = projection_ ? projection_->project(envelope->payload) : nullptr;
    auto reason = op.add(name, envelope->ts_ms, fields ? *fields : event.json(), envelope->id);
    if (!reason) continue;
    ++late;
    if (!late_stream_) continue;
    EventView seen = *envelope;
    seen.payload = event.payload();
    const LateEvent late_record = late_event(config_.name, partition, record.offset, seen, *reason);
    outbox_.add(*late_stream_, EventView{.id = late_record.id,
                                         .ts_ms = envelope->ts_ms,
                                         .received_at_ms = now_ms(),
                                         .type = std::string_view(partition.stream),
                                         .payload = late_record.payload});
  }
  dirty_ = early_dirty_ = true;
  std::lock_guard lock(mutex_);
  status_.filtered += filtered;
  status_.late += late;
  return consume::Handled{.next = batch.next_offset, .full = false};
}

void WindowJob::pass_done(bool read_any) {
  if (grouped_) {
    close_held(std::chrono::steady_clock::now(), read_any);
    return;
  }
  if (!read_any && config_.close_after_idle.count() > 0) {
    auto last = std::chrono::steady_clock::time_point::min();
    for (const auto& [partition, at] : last_event_)
      last = std::max(last, at);
    close_if_quiet(*operator_, last, std::chrono::steady_clock::now());
  }
  auto closed = operator_->close_ready();
  if (!closed.empty()) dirty_ = true;
  check_alerts(closed, /*final=*/true);
  drop_event_ids(closed);
  publish(closed, /*final=*/true);
  if (pending_.empty()) {
    pending_ = std::move(closed);
  } else {
    std::move(closed.begin(), closed.end(), std::back_inserter(pending_));
  }
  std::lock_guard lock(mutex_);
  status_.open_windows = operator_->open_windows();
  status_.pending_results = pending_.size();
  const std::int64_t w = std::max(operator_->watermark(), operator_->closed_until());
  status_.watermark_ms = w == INT64_MIN ? std::nullopt : std::optional<std::int64_t>(w);
}

void WindowJob::close_if_quiet(WindowOperator& op, std::chrono::steady_clock::time_point last,
                               std::chrono::steady_clock::time_point now) {
  const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  const std::int64_t latest = op.latest_event_time();
  if (quiet < config_.close_after_idle || latest == INT64_MIN) return;
  // Event time goes on from the latest event as fast as the clock: the windows the wall clock
  // has passed since then close, with their results and alerts.
  op.close_through(latest + quiet.count() - op.spec().allowed_lateness_ms);
}

Result<void> WindowJob::checkpoint(bool early_due) {
  if (grouped_) return checkpoint_held();
  // One checkpoint is written at a time; the previous one's outcome first.
  if (auto written = finish_writing(); !written) return written.error();
  std::vector<WindowResult> early;
  if (early_due) {
    early = operator_->open_results();
    check_alerts(early, /*final=*/false);
    drop_event_ids(early);
    publish(early, /*final=*/false);
  }
  Checkpoint checkpoint{definition_, json::serialize(operator_->save()), consumer_.positions()};
  {
    std::lock_guard lock(mutex_);
    writing_results_ = pending_.size();
  }
  // Written on another thread while this one reads on: SQLite's share of the work (results
  // especially) overlaps with reading and aggregating. Late events and alerts go first: once
  // the checkpoint moves past them they are not made again.
  writing_ =
      std::async(std::launch::async,
                 [this, checkpoint = std::move(checkpoint), final_results = std::move(pending_),
                  early = std::move(early), outbox = std::move(outbox_)]() mutable {
                   name_this_thread("sluice-wcheck");
                   Result<void> written = outbox.send(log_);
                   if (written)
                     written = store_->save(config_.name, final_results, early, checkpoint);
                   const std::size_t stored = final_results.size();
                   // Freed here, not by the reading thread when it takes the outcome.
                   std::vector<WindowResult>().swap(final_results);
                   std::vector<WindowResult>().swap(early);
                   if (!written) return written;
                   // What the checkpoint moved past is no longer needed from the log.
                   consumer_.hold(checkpoint.positions);
                   std::lock_guard lock(mutex_);
                   status_.results += stored;
                   status_.checkpoint_ms = now_ms();
                   writing_results_ = 0;
                   return Result<void>(boost::outcome_v2::success());
                 });
  pending_.clear();
  outbox_ = consume::Outbox();
  dirty_ = false;
  return boost::outcome_v2::success();
}

Result<void> WindowJob::finish_writing() {
  if (!writing_.valid()) return boost::outcome_v2::success();
  auto written = writing_.get();
  if (!written) {
    // What was read since the last checkpoint that made it is read again (restore()).
    std::lock_guard lock(mutex_);
    writing_results_ = 0;
  }
  return written;
}

Result<void> WindowJob::after_pass(bool stopping) {
  const auto now = std::chrono::steady_clock::now();
  if (grouped_ && !stopping && now >= next_merge_) {
    next_merge_ = now + config_.checkpoint_every;
    // Not the partitions' own work: a failed merge is tried again at the next one.
    if (auto merged = merge(); !merged) {
      logger("windows")->warn("window={} merge failed error=\"{}\"", config_.name,
                              merged.error().message);
      consumer_.note_error(merged.error().message);
    }
  }
  // Early updates only when open windows changed since the last ones (not in a group: a
  // window's state is spread over its partitions).
  const bool early_due =
      !grouped_ && config_.early_updates.count() > 0 && now >= next_early_ && early_dirty_;
  if (config_.early_updates.count() > 0 && now >= next_early_ && !early_dirty_) {
    next_early_ = now + config_.early_updates;
  }
  if (!(((dirty_ || !outbox_.empty()) && (now >= next_checkpoint_ || stopping)) || early_due)) {
    return boost::outcome_v2::success();
  }
  if (auto saved = checkpoint(early_due); !saved) return saved.error();
  next_checkpoint_ = now + config_.checkpoint_every;
  if (early_due) {
    next_early_ = now + config_.early_updates;
    early_dirty_ = false;
  }
  return boost::outcome_v2::success();
}

void WindowJob::finish() {
  if (auto written = finish_writing(); !written) {
    logger("windows")->error("window={} last checkpoint failed error=\"{}\"", config_.name,
                             written.error().message);
  }
}

}  // namespace sluice::windows
