#include "windows/window_job.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <filesystem>

#include "core/json_text.h"
#include "core/json_write.h"
#include "core/logging.h"
#include "core/redact.h"
#include "core/thread_name.h"
#include "core/time.h"
#include "pipeline/event_json.h"
#include "pipeline/field_path.h"
#include "pipeline/message_template.h"
#include "pipeline/pipeline_event.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

constexpr std::size_t kReadBatch = 2000;
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
// Alerts carry the smallest this many ids of their window's events.
constexpr std::size_t kAlertEventIds = 20;
constexpr std::string_view kEventIds = "_event_ids";

// The results as stored and served: without the ids sampled for alerts.
void drop_event_ids(std::vector<WindowResult>& results) {
  for (auto& r : results)
    r.values.erase(kEventIds);
}

std::string partition_name(const log::Partition& p) {
  return fmt::format("{}/{}", p.stream, p.index);
}

}  // namespace

WindowSpec spec_of(const WindowConfig& config) {
  WindowSpec spec;
  if (config.kind == "hopping") {
    spec.kind = WindowSpec::Kind::kHopping;
  } else if (config.kind == "session") {
    spec.kind = WindowSpec::Kind::kSession;
  }
  spec.size_ms = config.shape.size.count();
  spec.every_ms = config.shape.every.count();
  spec.gap_ms = config.shape.gap.count();
  spec.allowed_lateness_ms = config.allowed_lateness.count();
  spec.key_fields = config.key;
  const json::value aggregates = json::parse(config.aggregates);
  for (const auto& [name, text] : aggregates.as_object()) {
    spec.aggregates.push_back(parse_aggregate(std::string(name), text.as_string()).value());
  }
  return spec;
}

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
      operator_(std::in_place, spec_) {
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
  status_.state = "starting";
  // Under log.retention_policy protect nothing is deleted until the checkpoint says where the
  // definition is.
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      log_.hold(consumer(), log::Partition(stream, p), 0);
  }
}

WindowJob::~WindowJob() {
  stop();
}

WindowStatus WindowJob::status() const {
  std::lock_guard lock(mutex_);
  WindowStatus s = status_;
  s.pending_results += writing_results_;
  if (!positions_.empty()) s.lag = log::lag(log_, positions_);  // once restored
  return s;
}

void WindowJob::set_state(const char* state, const std::string& error) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  if (!error.empty()) status_.last_error = redact_urls(error);
}

Result<void> WindowJob::restore() {
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
  outbox_ = Outbox();
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
  std::lock_guard lock(mutex_);
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      log::Partition partition(stream, p);
      auto it = positions.find(partition);
      positions_[partition] = it == positions.end() ? 0 : it->second;
      log_.hold(consumer(), partition, positions_[partition]);
      last_event_[partition] = std::chrono::steady_clock::now();
    }
  }
  return boost::outcome_v2::success();
}

Result<bool> WindowJob::read_once() {
  bool any = false;
  const auto now = std::chrono::steady_clock::now();
  std::vector<log::Partition> partitions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [partition, position] : positions_)
      partitions.push_back(partition);
  }
  std::uint64_t read = 0, filtered = 0, late = 0;
  for (const auto& partition : partitions) {
    log::Offset from;
    {
      std::lock_guard lock(mutex_);
      from = positions_[partition];
    }
    auto batch = log_.read(partition, from, kReadBatch);
    if (!batch) return batch.error();
    if (batch.value().skipped > 0 && !batch.value().records.empty()) {
      log_.report_skipped(consumer(), partition, from, batch.value().skipped);
      std::lock_guard lock(mutex_);
      status_.skipped += batch.value().skipped;
    }
    const std::string name = partition_name(partition);
    if (batch.value().records.empty()) {
      if (log_.end_offset(partition) > from) {
        // Events are there but not fetched yet (Kafka): not idle, and until this partition has
        // shown an event, nothing closes.
        operator_->hold(name);
        last_event_[partition] = now;
      } else if (now - last_event_[partition] >= config_.idle_timeout) {
        // Nothing to read for idle_timeout: this partition stops holding the watermark back.
        operator_->set_idle(name, true);
      }
      continue;
    }
    any = true;
    last_event_[partition] = now;
    for (const auto& record : batch.value().records) {
      auto envelope = decode_event(record.bytes);
      if (!envelope) {
        return make_error(Errc::kCorrupt,
                          fmt::format("undecodable record {} at offset {}", name, record.offset));
      }
      ++read;
      // Records written before the collector bounded event times (or by other producers) are
      // bounded here: no event carries the watermark past its arrival + max_future.
      if (auto limit = max_future_ms_.find(partition.stream); limit != max_future_ms_.end()) {
        envelope->ts_ms = std::min(envelope->ts_ms, envelope->received_at_ms + limit->second);
      }
      pipeline::PipelineEvent event(partition.stream, partition.index, record.offset, *envelope);
      if (filter_ && !filter_->matches(event.json())) {
        operator_->observe(name, envelope->ts_ms);
        ++filtered;
        continue;
      }
      const json::value* fields = projection_ ? projection_->project(envelope->payload) : nullptr;
      auto reason =
          operator_->add(name, envelope->ts_ms, fields ? *fields : event.json(), envelope->id);
      if (!reason) continue;
      ++late;
      if (!late_stream_) continue;
      std::string payload = "{\"window\":";
      append_json_string(payload, config_.name);
      payload += ",\"error\":";
      append_json_string(payload, *reason);
      payload += fmt::format(",\"offset\":{},\"event\":", record.offset);
      pipeline::append_event_json(
          payload, pipeline::SinkRecord{partition.stream, partition.index, record.offset, [&] {
                                          EventView view = *envelope;
                                          view.payload = event.payload();
                                          return view;
                                        }()});
      payload += '}';
      // The same event is late again in a replay: the same id, which the store keeps once.
      const std::string id = fmt::format("late:{}:{}:{}", config_.name, name, record.offset);
      outbox_.add(*late_stream_, EventView{.id = id,
                                           .ts_ms = envelope->ts_ms,
                                           .received_at_ms = now_ms(),
                                           .type = std::string_view(partition.stream),
                                           .payload = payload});
    }
    std::lock_guard lock(mutex_);
    positions_[partition] = batch.value().next_offset;
  }
  if (read > 0) dirty_ = early_dirty_ = true;
  if (!any && config_.close_after_idle.count() > 0) close_if_quiet(now);
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
  status_.read += read;
  status_.filtered += filtered;
  status_.late += late;
  status_.open_windows = operator_->open_windows();
  status_.pending_results = pending_.size();
  const std::int64_t w = std::max(operator_->watermark(), operator_->closed_until());
  status_.watermark_ms = w == INT64_MIN ? std::nullopt : std::optional<std::int64_t>(w);
  return any;
}

void WindowJob::close_if_quiet(std::chrono::steady_clock::time_point now) {
  auto last = std::chrono::steady_clock::time_point::min();
  for (const auto& [partition, at] : last_event_)
    last = std::max(last, at);
  const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  const std::int64_t latest = operator_->latest_event_time();
  if (quiet < config_.close_after_idle || latest == INT64_MIN) return;
  // Event time goes on from the latest event as fast as the clock: the windows the wall clock
  // has passed since then close, with their results and alerts.
  operator_->close_through(latest + quiet.count() - operator_->spec().allowed_lateness_ms);
}

void WindowJob::check_alerts(const std::vector<WindowResult>& results, bool final) {
  if (rules_.empty()) return;
  const auto& key_fields = operator_->spec().key_fields;
  for (const auto& result : results) {
    // What a rule sees: the key fields, the aggregates, events, start and end.
    json::object seen;
    json::object key;
    const json::value key_values = json::parse(result.key);
    for (std::size_t i = 0; i < key_fields.size() && i < key_values.as_array().size(); ++i) {
      key[key_fields[i]] = key_values.as_array()[i];
      // A dotted key field (device.id) is nested, as in the event, so that the condition and
      // the message reach it by the same path.
      json::object* at = &seen;
      std::string_view path = key_fields[i];
      for (auto dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.')) {
        json::value& inner = (*at)[path.substr(0, dot)];
        if (!inner.is_object()) inner = json::object();
        at = &inner.as_object();
        path.remove_prefix(dot + 1);
      }
      (*at)[path] = key_values.as_array()[i];
    }
    json::object values = result.values;
    json::value event_ids = json::array();
    if (auto* ids = values.if_contains(kEventIds)) event_ids = std::move(*ids);
    values.erase(kEventIds);
    for (const auto& [name, value] : values)
      seen[name] = value;
    seen["events"] = result.events;
    seen["start"] = format_iso8601_ms(result.start_ms);
    seen["end"] = format_iso8601_ms(result.end_ms);
    const json::value context(std::move(seen));
    for (const auto& rule : rules_) {
      auto fired = std::make_tuple(rule.name, result.key, result.start_ms);
      if (fired_.contains(fired)) {
        if (final) fired_.erase(fired);
        continue;
      }
      if (!rule.when.matches(context)) continue;
      if (!final) fired_.insert(fired);
      json::object alert{{"rule", rule.name},
                         {"severity", rule.severity},
                         {"message", pipeline::render_message(rule.message, context)},
                         {"window", config_.name},
                         {"key", key},
                         {"start", context.at("start")},
                         {"end", context.at("end")},
                         {"events", result.events},
                         {"values", values},
                         // The window's events, or the smallest kAlertEventIds of their ids.
                         {"event_ids", event_ids}};
      const std::string payload = json_text(alert);
      // One alert per rule, key and window, whether early or final, before or after a crash.
      const std::string id = fmt::format("alert:{}:{}:{}", rule.name, result.key, result.start_ms);
      outbox_.add(rule.stream, EventView{.id = id,
                                         .ts_ms = result.end_ms,
                                         .received_at_ms = now_ms(),
                                         .type = std::string_view(rule.name),
                                         .payload = payload});
      std::lock_guard lock(mutex_);
      ++status_.alerts;
      ++status_.alerts_by_rule[rule.name];
    }
  }
}

void WindowJob::publish(const std::vector<WindowResult>& results, bool final) {
  if (!results_stream_) return;
  const auto& key_fields = operator_->spec().key_fields;
  for (const auto& result : results) {
    json::object key;
    const json::value key_values = json::parse(result.key);
    for (std::size_t i = 0; i < key_fields.size() && i < key_values.as_array().size(); ++i)
      key[key_fields[i]] = key_values.as_array()[i];
    const std::string payload = json_text(json::object{
        {"window", config_.name},
        {"key", std::move(key)},
        {"start", format_iso8601_ms(result.start_ms)},
        {"end", format_iso8601_ms(result.end_ms)},
        {"events", result.events},
        {"values", result.values},
        {"final", final},
    });
    // Every version of a result has the same id: sinks that upsert keep the latest.
    const std::string id =
        fmt::format("result:{}:{}:{}", config_.name, result.key, result.start_ms);
    outbox_.add(*results_stream_, EventView{.id = id,
                                            .ts_ms = result.end_ms,
                                            .received_at_ms = now_ms(),
                                            .type = std::string_view(config_.name),
                                            .payload = payload});
  }
}

Result<void> WindowJob::checkpoint(bool early_due) {
  // One checkpoint is written at a time; the previous one's outcome first.
  if (auto written = finish_writing(); !written) return written.error();
  std::vector<WindowResult> early;
  if (early_due) {
    early = operator_->open_results();
    check_alerts(early, /*final=*/false);
    drop_event_ids(early);
    publish(early, /*final=*/false);
  }
  Checkpoint checkpoint{definition_, json::serialize(operator_->save()), {}};
  {
    std::lock_guard lock(mutex_);
    checkpoint.positions = positions_;
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
                   for (const auto& [partition, position] : checkpoint.positions)
                     log_.hold(consumer(), partition, position);
                   std::lock_guard lock(mutex_);
                   status_.results += stored;
                   status_.checkpoint_ms = now_ms();
                   writing_results_ = 0;
                   return Result<void>(boost::outcome_v2::success());
                 });
  pending_.clear();
  outbox_ = Outbox();
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

void WindowJob::run() {
  auto logger = sluice::logger("windows");
  std::chrono::milliseconds backoff{0};
  // From the last checkpoint: at start, and after a checkpoint that failed.
  auto start_over = [&] {
    for (;;) {
      auto restored = restore();
      if (restored) return true;
      backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
      logger->error("window={} cannot start error=\"{}\" retry_in_ms={}", config_.name,
                    restored.error().message, backoff.count());
      set_state("retrying", restored.error().message);
      if (pause(backoff)) return false;
    }
  };
  if (!start_over()) return;
  set_state("running");
  logger->info("window={} started from={} kind={}", config_.name, fmt::join(config_.from, ","),
               config_.kind);
  auto next_checkpoint = std::chrono::steady_clock::now() + config_.checkpoint_every;
  auto next_early = std::chrono::steady_clock::now() + config_.early_updates;
  backoff = std::chrono::milliseconds{0};
  for (;;) {
    const auto [stopping, seen] = poll();
    bool any = false;
    if (!stopping) {
      auto read = read_once();
      if (!read) {
        backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
        logger->error("window={} error=\"{}\" retry_in_ms={}", config_.name, read.error().message,
                      backoff.count());
        set_state("retrying", read.error().message);
        if (pause(backoff)) break;
        continue;
      }
      any = read.value();
    }
    const auto now = std::chrono::steady_clock::now();
    // Early updates only when open windows changed since the last ones.
    const bool early_due = config_.early_updates.count() > 0 && now >= next_early && early_dirty_;
    if (config_.early_updates.count() > 0 && now >= next_early && !early_dirty_) {
      next_early = now + config_.early_updates;
    }
    if (((dirty_ || !outbox_.empty()) && (now >= next_checkpoint || stopping)) || early_due) {
      if (auto saved = checkpoint(early_due); !saved) {
        backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
        logger->error("window={} checkpoint failed error=\"{}\" retry_in_ms={}", config_.name,
                      saved.error().message, backoff.count());
        set_state("retrying", saved.error().message);
        if (pause(backoff) || !start_over()) break;
        continue;
      }
      next_checkpoint = now + config_.checkpoint_every;
      if (early_due) {
        next_early = now + config_.early_updates;
        early_dirty_ = false;
      }
      set_state("running");
    }
    backoff = std::chrono::milliseconds{0};
    if (stopping) break;
    if (any) continue;
    // Nothing to read: wait for new events, the next checkpoint or the idle timeout.
    wait_for_news(seen, std::min<std::chrono::milliseconds>(config_.checkpoint_every,
                                                            std::chrono::seconds(1)));
  }
  if (auto written = finish_writing(); !written) {
    logger->error("window={} last checkpoint failed error=\"{}\"", config_.name,
                  written.error().message);
  }
  set_state("stopped");
}

std::map<std::string, WindowSet::Job> WindowSet::jobs_of(const Config& config) const {
  std::map<std::string, Job> jobs;
  for (const auto& [name, window] : config.windows) {
    std::optional<StreamConfig> late;
    if (auto it = config.streams.find(window.late); it != config.streams.end()) late = it->second;
    std::vector<AlertRule> rules;
    // A window's rules are part of it: a changed rule restarts the window's job.
    std::string fingerprint = window.source;
    for (const auto& [rule_name, alert] : config.alerts) {
      if (alert.window != name) continue;  // another window's rule, or a per-event rule
      rules.push_back({rule_name, expr::Expression::parse(alert.when).value(), alert.severity,
                       alert.message, config.streams.at(alert.stream)});
      fingerprint += "\n" + rule_name + ":" + alert.source;
    }
    std::optional<StreamConfig> results;
    if (!window.to.empty()) results = config.streams.at(window.results_stream);
    auto job = std::make_unique<WindowJob>(window, log_, location_, late, std::move(rules),
                                           std::move(results));
    std::map<std::string, std::int64_t> max_future;
    for (const auto& stream : window.from)
      max_future[stream] = config.streams.at(stream).max_future.count();
    job->limit_future(std::move(max_future));
    jobs["windows." + name] = {fingerprint, std::move(job), nullptr};
  }
  for (const auto& [name, alert] : config.alerts) {
    if (alert.from.empty()) continue;
    jobs["alerts." + name] = {alert.source, nullptr,
                              std::make_unique<alerts::EventRuleJob>(
                                  alert, log_, location_, config.streams.at(alert.stream))};
  }
  return jobs;
}

std::unique_ptr<WindowSet> WindowSet::build(const Config& config, log::Log& log) {
  auto set = std::make_unique<WindowSet>(log, config.storage.windows_location());
  set->jobs_ = set->jobs_of(config);
  return set;
}

void WindowSet::start() {
  std::lock_guard lock(mutex_);
  for (auto& [name, job] : jobs_)
    job.start();
}

void WindowSet::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [name, job] : jobs_)
    job.worker().stop();
}

void WindowSet::notify() {
  std::lock_guard lock(mutex_);
  for (auto& [name, job] : jobs_)
    job.worker().notify();
}

WindowSet::ReloadSummary WindowSet::reload(const Config& config) {
  auto fresh = jobs_of(config);
  ReloadSummary summary;
  std::vector<Job> retired;
  {
    // Out first: a changed job's old thread must have stopped (with its last checkpoint)
    // before the new one restores from it.
    std::lock_guard lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      auto next = fresh.find(it->first);
      if (next != fresh.end() && next->second.fingerprint == it->second.fingerprint) {
        summary.unchanged.push_back(it->first);
        fresh.erase(next);
        ++it;
        continue;
      }
      (next == fresh.end() ? summary.removed : summary.changed).push_back(it->first);
      retired.push_back(std::move(it->second));
      it = jobs_.erase(it);
    }
  }
  for (auto& job : retired)
    job.worker().stop();
  retired.clear();
  // A removed definition or rule no longer holds back retention (its name is its consumer's).
  for (const auto& name : summary.removed)
    log_.release(name);
  std::lock_guard lock(mutex_);
  for (auto& [name, job] : fresh) {
    if (std::ranges::find(summary.changed, name) == summary.changed.end()) {
      summary.added.push_back(name);
    }
    job.start();
    jobs_.emplace(name, std::move(job));
  }
  return summary;
}

std::optional<WindowConfig> WindowSet::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find("windows." + name);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.window->config();
}

std::vector<alerts::EventRuleStatus> WindowSet::rule_statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<alerts::EventRuleStatus> out;
  for (const auto& [name, job] : jobs_) {
    if (job.rule) out.push_back(job.rule->status());
  }
  return out;
}

std::vector<WindowStatus> WindowSet::statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<WindowStatus> out;
  for (const auto& [name, job] : jobs_) {
    if (job.window) out.push_back(job.window->status());
  }
  return out;
}

std::string statuses_json(const std::vector<WindowStatus>& statuses,
                          const std::vector<alerts::EventRuleStatus>& rules) {
  json::array list;
  for (const auto& s : statuses) {
    json::array from;
    for (const auto& stream : s.from)
      from.emplace_back(stream);
    list.push_back(json::object{
        {"name", s.name},
        {"state", s.state},
        {"from", std::move(from)},
        {"lag", s.lag ? json::value(*s.lag) : json::value(nullptr)},
        {"read", s.read},
        {"filtered", s.filtered},
        {"late", s.late},
        {"results", s.results},
        {"pending_results", s.pending_results},
        {"alerts", s.alerts},
        {"skipped", s.skipped},
        {"open_windows", s.open_windows},
        {"watermark",
         s.watermark_ms ? json::value(format_iso8601_ms(*s.watermark_ms)) : json::value(nullptr)},
        {"checkpoint",
         s.checkpoint_ms ? json::value(format_iso8601_ms(*s.checkpoint_ms)) : json::value(nullptr)},
        {"last_error", s.last_error.empty() ? json::value(nullptr) : json::value(s.last_error)},
    });
  }
  json::array rule_list;
  for (const auto& r : rules) {
    rule_list.push_back(json::object{
        {"name", r.name},
        {"state", r.state},
        {"lag", r.lag ? json::value(*r.lag) : json::value(nullptr)},
        {"read", r.read},
        {"matched", r.matched},
        {"alerts", r.alerts},
        {"suppressed", r.suppressed},
        {"pending_alerts", r.pending_alerts},
        {"skipped", r.skipped},
        {"last_error", r.last_error.empty() ? json::value(nullptr) : json::value(r.last_error)},
    });
  }
  return json::serialize(
      json::object{{"windows", std::move(list)}, {"rules", std::move(rule_list)}});
}

}  // namespace sluice::windows
