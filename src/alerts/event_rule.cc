#include "alerts/event_rule.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>

#include "core/json_write.h"
#include "core/logging.h"
#include "core/time.h"
#include "pipeline/field_path.h"
#include "pipeline/message_template.h"
#include "pipeline/pipeline_event.h"

namespace sluice::alerts {
namespace {

namespace json = boost::json;

constexpr std::size_t kReadBatch = 2000;
// Checkpoints come this often while events are read, and at once when alerts wait.
constexpr std::chrono::milliseconds kCheckpointEvery{1000};
// Reading pauses while this many alerts wait for the log.
constexpr std::size_t kMaxWaiting = 100'000;
// How far behind every partition's event time a key's cooldown may end before it is forgotten.
constexpr std::chrono::milliseconds kForgetAfter{3'600'000};

consume::Options options_of(const AlertConfig& config, bool in_group) {
  return {.name = "alerts." + config.name,
          .who = "rule=" + config.name,
          .logger = "alerts",
          .thread = "sluice-alert",
          .streams = config.from,
          .batch_events = kReadBatch,
          .quiet_wait = kCheckpointEvery,
          .commits_per_batch = false,
          .group = in_group ? "alerts." + config.name : ""};
}

}  // namespace

EventRuleJob::EventRuleJob(AlertConfig config, log::Log& log, OpenStore open_store,
                           StreamConfig alerts_stream, bool in_group)
    : config_(std::move(config)),
      log_(log),
      open_store_(std::move(open_store)),
      checkpoint_name_("alerts." + config_.name),
      alerts_stream_(std::move(alerts_stream)),
      when_(expr::Expression::parse(config_.when).value()),
      consumer_(options_of(config_, in_group), log, *this) {}

EventRuleJob::~EventRuleJob() {
  consumer_.stop();
}

EventRuleStatus EventRuleJob::status() const {
  const auto progress = consumer_.progress();
  std::lock_guard lock(mutex_);
  EventRuleStatus s = counts_;
  s.name = config_.name;
  consume::copy_progress(progress, s);
  s.lag = consumer_.lag();
  return s;
}

std::string EventRuleJob::save_state(const Scope& scope) {
  json::array keys;
  for (const auto& [key, state] : scope.keys) {
    keys.push_back(json::array{json::value(key), state.last_alert_ms, state.suppressed});
  }
  json::object latest;
  for (const auto& [partition, ts] : scope.latest_ms)
    latest[partition] = ts;
  return json::serialize(json::object{{"latest", std::move(latest)}, {"keys", std::move(keys)}});
}

bool EventRuleJob::load_state(const std::string& text, Scope& scope) {
  boost::system::error_code ec;
  const json::value state = json::parse(text, ec);
  if (ec || !state.is_object() || !state.as_object().contains("latest") ||
      !state.at("latest").is_object() || !state.as_object().contains("keys") ||
      !state.at("keys").is_array()) {
    return false;
  }
  scope.latest_ms.clear();
  for (const auto& [partition, ts] : state.at("latest").get_object()) {
    if (!ts.is_int64()) return false;
    scope.latest_ms[std::string(partition)] = ts.get_int64();
  }
  scope.keys.clear();
  for (const auto& item : state.at("keys").get_array()) {
    const auto* entry = item.if_array();
    if (!entry || entry->size() != 3 || !(*entry)[0].is_string() || !(*entry)[1].is_int64() ||
        !(*entry)[2].is_number()) {
      return false;
    }
    scope.keys[std::string((*entry)[0].get_string())] = {(*entry)[1].get_int64(),
                                                         (*entry)[2].to_number<std::uint64_t>()};
  }
  return true;
}

std::string EventRuleJob::scope_name(const log::Partition& partition) const {
  return grouped_ ? fmt::format("{}/{}", partition.stream, partition.index) : std::string();
}

Result<consume::Positions> EventRuleJob::restore_scope(const std::string& name, Scope& scope) {
  auto loaded = store_->load(name.empty() ? checkpoint_name_ : checkpoint_name_ + "@" + name);
  if (!loaded) return loaded.error();
  consume::Positions positions;
  if (const auto& checkpoint = loaded.value()) {
    positions = checkpoint->positions;
    auto outbox = consume::Outbox::from_json(checkpoint->outbox);
    if (!outbox) return outbox.error();
    scope.outbox = std::move(outbox.value());
    scope.dirty = !scope.outbox.empty();  // saved but maybe not sent: sent at the first checkpoint
    if (checkpoint->definition != config_.source) {
      // A changed rule goes on from where it was; what it remembered of keys may not fit.
      logger("alerts")->info("rule={} changed: goes on from its positions, cooldowns forgotten",
                             config_.name);
    } else if (!load_state(checkpoint->state, scope)) {
      return make_error(Errc::kCorrupt, "windows.db: unreadable state of rule " + config_.name);
    }
  }
  return positions;
}

Result<consume::Positions> EventRuleJob::restore(const std::vector<log::Partition>& partitions) {
  if (!store_) {
    try {
      store_ = open_store_();
    } catch (const std::exception& e) {
      return make_error(Errc::kUnavailable, e.what());
    }
  }
  grouped_ = consumer_.group().has_value();
  consume::Positions positions;
  if (grouped_) {
    // A checkpoint per partition: each restored as it is assigned.
    for (const auto& partition : partitions) {
      const std::string name = scope_name(partition);
      Scope scope;
      auto restored = restore_scope(name, scope);
      if (!restored) return restored.error();
      if (auto it = restored.value().find(partition); it != restored.value().end()) {
        positions.insert(*it);
      }
      scopes_.insert_or_assign(name, std::move(scope));
    }
  } else {
    Scope scope;
    auto restored = restore_scope("", scope);
    if (!restored) return restored.error();
    positions = std::move(restored.value());
    scopes_.clear();
    scopes_.emplace("", std::move(scope));
  }
  for (const auto& partition : partitions) {
    if (!positions.contains(partition)) {
      positions[partition] = config_.start == "latest" ? log_.end_offset(partition) : 0;
      // A new rule's starting positions are kept from the first checkpoint.
      scopes_.at(scope_name(partition)).dirty = true;
    }
  }
  next_checkpoint_ = std::chrono::steady_clock::now() + kCheckpointEvery;
  return positions;
}

void EventRuleJob::release(const std::vector<log::Partition>& partitions) {
  if (!grouped_) return;
  // What the rule decided for them is saved (and sent) before another process takes them over.
  for (const auto& partition : partitions) {
    auto it = scopes_.find(scope_name(partition));
    if (it == scopes_.end()) continue;
    if (auto saved = checkpoint(it->first, it->second); !saved) {
      logger("alerts")->warn("rule={} releasing {} without a last checkpoint error=\"{}\"",
                             config_.name, it->first, saved.error().message);
    }
    scopes_.erase(it);
  }
}

void EventRuleJob::started() {
  logger("alerts")->info("rule={} started from={} cooldown_ms={}", config_.name,
                         fmt::join(config_.from, ","), config_.cooldown.count());
}

void EventRuleJob::check(Scope& scope, const log::Partition& partition, const EventView& envelope,
                         const json::value& event) {
  {
    std::lock_guard lock(mutex_);
    ++counts_.matched;
  }
  json::array key_values;
  json::object key;
  for (const auto& field : config_.key) {
    const json::value* v = pipeline::find_field(event, field);
    key_values.push_back(v ? *v : json::value(nullptr));
    key[field] = key_values.back();
  }
  const std::string key_text = json::serialize(key_values);
  std::uint64_t suppressed = 0;
  if (config_.cooldown.count() > 0) {
    auto [it, added] = scope.keys.try_emplace(key_text);
    KeyState& state = it->second;
    if (!added && std::llabs(envelope.ts_ms - state.last_alert_ms) < config_.cooldown.count()) {
      ++state.suppressed;
      std::lock_guard lock(mutex_);
      ++counts_.suppressed;
      return;
    }
    suppressed = state.suppressed;
    state = {envelope.ts_ms, 0};
  }
  // What the message template sees: the event's fields, and the rule's.
  json::value context = event.is_object() ? event : json::object();
  context.as_object()["rule"] = config_.name;
  context.as_object()["suppressed"] = suppressed;
  json::object alert{{"rule", config_.name},
                     {"severity", config_.severity},
                     {"message", pipeline::render_message(config_.message, context)},
                     {"key", std::move(key)},
                     {"stream", partition.stream},
                     {"ts", format_iso8601_ms(envelope.ts_ms)},
                     {"event_ids", json::array{json::value(envelope.id)}},
                     {"suppressed", suppressed},
                     {"event", event}};
  const std::string payload = json_text(alert);
  const std::string id = fmt::format("alert:{}:{}:{}", config_.name, partition.stream, envelope.id);
  scope.outbox.add(alerts_stream_, EventView{.id = id,
                                             .ts_ms = envelope.ts_ms,
                                             .received_at_ms = now_ms(),
                                             .type = std::string_view(config_.name),
                                             .payload = payload});
  std::lock_guard lock(mutex_);
  ++counts_.alerts;
}

bool EventRuleJob::wants_records() {
  std::size_t waiting = 0;
  for (const auto& [name, scope] : scopes_)
    waiting += scope.outbox.size();
  return waiting < kMaxWaiting;  // reading pauses while too many alerts wait
}

Result<consume::Handled> EventRuleJob::handle(const log::Partition& partition, log::Offset,
                                              const log::ReadBatch& batch) {
  if (batch.records.empty()) return consume::Handled{.next = batch.next_offset, .full = false};
  Scope& scope = scopes_.at(scope_name(partition));
  auto [latest, added] = scope.latest_ms.try_emplace(
      fmt::format("{}/{}", partition.stream, partition.index), INT64_MIN);
  for (const auto& record : batch.records) {
    auto envelope = decode_event(record.bytes);
    if (!envelope) {
      return make_error(Errc::kCorrupt,
                        fmt::format("undecodable record {}/{} at offset {}", partition.stream,
                                    partition.index, record.offset));
    }
    latest->second = std::max(latest->second, envelope->ts_ms);
    pipeline::PipelineEvent event(partition.stream, partition.index, record.offset, *envelope);
    if (when_.matches(event.json())) check(scope, partition, *envelope, event.json());
  }
  scope.dirty = true;
  return consume::Handled{.next = batch.next_offset, .full = false};
}

void EventRuleJob::pass_done(bool) {
  std::size_t waiting = 0;
  for (const auto& [name, scope] : scopes_)
    waiting += scope.outbox.size();
  std::lock_guard lock(mutex_);
  counts_.pending_alerts = waiting;
}

Result<void> EventRuleJob::after_pass(bool stopping) {
  const auto now = std::chrono::steady_clock::now();
  bool waiting = false;
  for (const auto& [name, scope] : scopes_)
    waiting = waiting || !scope.outbox.empty();
  if (!waiting && now < next_checkpoint_ && !stopping) return boost::outcome_v2::success();
  for (auto& [name, scope] : scopes_) {
    if (!scope.dirty) continue;
    if (auto saved = checkpoint(name, scope); !saved) return saved.error();
  }
  next_checkpoint_ = now + kCheckpointEvery;
  std::lock_guard lock(mutex_);
  counts_.pending_alerts = 0;
  return boost::outcome_v2::success();
}

Result<void> EventRuleJob::checkpoint(const std::string& name, Scope& scope) {
  if (config_.cooldown.count() > 0 && !scope.latest_ms.empty()) {
    // A key's cooldown matters to events up to a cooldown after its last alert. Once every
    // partition's event time is a further kForgetAfter (at least a cooldown) past that, only
    // events that late could meet it: the key is forgotten, unless it holds a count of
    // suppressed events for its next alert.
    std::int64_t slowest = INT64_MAX;
    for (const auto& [partition, ts] : scope.latest_ms)
      slowest = std::min(slowest, ts);
    const std::int64_t horizon =
        config_.cooldown.count() + std::max(config_.cooldown.count(), kForgetAfter.count());
    std::erase_if(scope.keys, [&](const auto& item) {
      return item.second.suppressed == 0 && item.second.last_alert_ms < slowest - horizon;
    });
  }
  consume::Positions positions = consumer_.positions();
  if (!name.empty()) {
    std::erase_if(positions, [&](const auto& item) { return scope_name(item.first) != name; });
  }
  consume::Checkpoint checkpoint{config_.source, save_state(scope), positions,
                                 scope.outbox.to_json()};
  if (auto saved = store_->save_checkpoint(
          name.empty() ? checkpoint_name_ : checkpoint_name_ + "@" + name, checkpoint);
      !saved) {
    return saved.error();
  }
  scope.dirty = false;
  consumer_.hold(checkpoint.positions);
  // Saved: from here on a crash sends them again at start rather than deciding again.
  if (auto sent = scope.outbox.send(log_); !sent) {
    scope.dirty = true;  // the next checkpoint saves them again and retries
    return sent.error();
  }
  return boost::outcome_v2::success();
}

}  // namespace sluice::alerts
