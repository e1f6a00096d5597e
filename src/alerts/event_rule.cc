#include "alerts/event_rule.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>

#include "core/json_write.h"
#include "core/logging.h"
#include "core/redact.h"
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
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};

}  // namespace

EventRuleJob::EventRuleJob(AlertConfig config, log::Log& log, std::string store_path,
                           StreamConfig alerts_stream)
    : config_(std::move(config)),
      log_(log),
      store_path_(std::move(store_path)),
      checkpoint_name_("alerts." + config_.name),
      alerts_stream_(std::move(alerts_stream)),
      when_(expr::Expression::parse(config_.when).value()) {
  status_.name = config_.name;
  status_.state = "starting";
  // Under log.retention_policy protect nothing is deleted until the checkpoint is read.
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p)
      log_.hold(checkpoint_name_, log::Partition(stream, p), 0);
  }
}

EventRuleJob::~EventRuleJob() {
  stop();
}

EventRuleStatus EventRuleJob::status() const {
  std::lock_guard lock(mutex_);
  EventRuleStatus s = status_;
  if (!positions_.empty()) s.lag = log::lag(log_, positions_);  // once restored
  return s;
}

void EventRuleJob::set_state(const char* state, const std::string& error) {
  std::lock_guard lock(mutex_);
  status_.state = state;
  if (!error.empty()) status_.last_error = redact_urls(error);
}

std::string EventRuleJob::save_state() const {
  json::array keys;
  for (const auto& [key, state] : keys_) {
    keys.push_back(json::array{json::value(key), state.last_alert_ms, state.suppressed});
  }
  json::object latest;
  for (const auto& [partition, ts] : latest_ms_)
    latest[partition] = ts;
  return json::serialize(json::object{{"latest", std::move(latest)}, {"keys", std::move(keys)}});
}

bool EventRuleJob::load_state(const std::string& text) {
  boost::system::error_code ec;
  const json::value state = json::parse(text, ec);
  if (ec || !state.is_object() || !state.as_object().contains("latest") ||
      !state.at("latest").is_object() || !state.as_object().contains("keys") ||
      !state.at("keys").is_array()) {
    return false;
  }
  latest_ms_.clear();
  for (const auto& [partition, ts] : state.at("latest").get_object()) {
    if (!ts.is_int64()) return false;
    latest_ms_[std::string(partition)] = ts.get_int64();
  }
  keys_.clear();
  for (const auto& item : state.at("keys").get_array()) {
    const auto* entry = item.if_array();
    if (!entry || entry->size() != 3 || !(*entry)[0].is_string() || !(*entry)[1].is_int64() ||
        !(*entry)[2].is_number()) {
      return false;
    }
    keys_[std::string((*entry)[0].get_string())] = {(*entry)[1].get_int64(),
                                                    (*entry)[2].to_number<std::uint64_t>()};
  }
  return true;
}

Result<void> EventRuleJob::restore() {
  if (!store_) {
    try {
      store_ = windows::open_window_store(store_path_);
    } catch (const std::exception& e) {
      return make_error(Errc::kUnavailable, e.what());
    }
  }
  auto loaded = store_->load(checkpoint_name_);
  if (!loaded) return loaded.error();
  std::map<log::Partition, log::Offset> positions;
  if (const auto& checkpoint = loaded.value()) {
    positions = checkpoint->positions;
    auto outbox = windows::Outbox::from_json(checkpoint->outbox);
    if (!outbox) return outbox.error();
    outbox_ = std::move(outbox.value());
    dirty_ = !outbox_.empty();  // saved but maybe not sent: sent at the first checkpoint
    if (checkpoint->definition != config_.source) {
      // A changed rule goes on from where it was; what it remembered of keys may not fit.
      logger("alerts")->info("rule={} changed: goes on from its positions, cooldowns forgotten",
                             config_.name);
    } else if (!load_state(checkpoint->state)) {
      return make_error(Errc::kCorrupt, "windows.db: unreadable state of rule " + config_.name);
    }
  }
  std::lock_guard lock(mutex_);
  for (const auto& stream : config_.from) {
    for (std::uint32_t p = 0; p < log_.partitions(stream); ++p) {
      log::Partition partition(stream, p);
      auto it = positions.find(partition);
      if (it != positions.end()) {
        positions_[partition] = it->second;
      } else {
        positions_[partition] = config_.start == "latest" ? log_.end_offset(partition) : 0;
        dirty_ = true;  // a new rule's starting positions are kept from the first checkpoint
      }
      log_.hold(checkpoint_name_, partition, positions_[partition]);
    }
  }
  return boost::outcome_v2::success();
}

void EventRuleJob::check(const log::Partition& partition, const EventView& envelope,
                         const json::value& event) {
  {
    std::lock_guard lock(mutex_);
    ++status_.matched;
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
    auto [it, added] = keys_.try_emplace(key_text);
    KeyState& state = it->second;
    if (!added && std::llabs(envelope.ts_ms - state.last_alert_ms) < config_.cooldown.count()) {
      ++state.suppressed;
      std::lock_guard lock(mutex_);
      ++status_.suppressed;
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
  outbox_.add(alerts_stream_, EventView{.id = id,
                                        .ts_ms = envelope.ts_ms,
                                        .received_at_ms = now_ms(),
                                        .type = std::string_view(config_.name),
                                        .payload = payload});
  std::lock_guard lock(mutex_);
  ++status_.alerts;
}

Result<bool> EventRuleJob::read_once() {
  bool any = false;
  std::vector<std::pair<log::Partition, log::Offset>> partitions;
  {
    std::lock_guard lock(mutex_);
    partitions.assign(positions_.begin(), positions_.end());
  }
  std::uint64_t read = 0;
  for (const auto& [partition, from] : partitions) {
    auto batch = log_.read(partition, from, kReadBatch);
    if (!batch) return batch.error();
    if (batch.value().records.empty()) continue;
    if (batch.value().skipped > 0) {
      log_.report_skipped(checkpoint_name_, partition, from, batch.value().skipped);
      std::lock_guard lock(mutex_);
      status_.skipped += batch.value().skipped;
    }
    any = true;
    auto [latest, added] =
        latest_ms_.try_emplace(fmt::format("{}/{}", partition.stream, partition.index), INT64_MIN);
    for (const auto& record : batch.value().records) {
      auto envelope = decode_event(record.bytes);
      if (!envelope) {
        return make_error(Errc::kCorrupt,
                          fmt::format("undecodable record {}/{} at offset {}", partition.stream,
                                      partition.index, record.offset));
      }
      ++read;
      latest->second = std::max(latest->second, envelope->ts_ms);
      pipeline::PipelineEvent event(partition.stream, partition.index, record.offset, *envelope);
      if (when_.matches(event.json())) check(partition, *envelope, event.json());
    }
    std::lock_guard lock(mutex_);
    positions_[partition] = batch.value().next_offset;
  }
  if (read > 0) dirty_ = true;
  std::lock_guard lock(mutex_);
  status_.read += read;
  status_.pending_alerts = outbox_.size();
  return any;
}

Result<void> EventRuleJob::checkpoint() {
  if (config_.cooldown.count() > 0 && !latest_ms_.empty()) {
    // A key's cooldown matters to events up to a cooldown after its last alert. Once every
    // partition's event time is a further kForgetAfter (at least a cooldown) past that, only
    // events that late could meet it: the key is forgotten, unless it holds a count of
    // suppressed events for its next alert.
    std::int64_t slowest = INT64_MAX;
    for (const auto& [partition, ts] : latest_ms_)
      slowest = std::min(slowest, ts);
    const std::int64_t horizon =
        config_.cooldown.count() + std::max(config_.cooldown.count(), kForgetAfter.count());
    std::erase_if(keys_, [&](const auto& item) {
      return item.second.suppressed == 0 && item.second.last_alert_ms < slowest - horizon;
    });
  }
  windows::Checkpoint checkpoint{config_.source, save_state(), {}, outbox_.to_json()};
  {
    std::lock_guard lock(mutex_);
    checkpoint.positions = positions_;
  }
  if (auto saved = store_->save(checkpoint_name_, {}, {}, checkpoint); !saved) {
    return saved.error();
  }
  dirty_ = false;
  for (const auto& [partition, position] : checkpoint.positions)
    log_.hold(checkpoint_name_, partition, position);
  // Saved: from here on a crash sends them again at start rather than deciding again.
  if (auto sent = outbox_.send(log_); !sent) {
    dirty_ = true;  // the next checkpoint saves them again and retries
    return sent.error();
  }
  std::lock_guard lock(mutex_);
  status_.pending_alerts = 0;
  return boost::outcome_v2::success();
}

void EventRuleJob::run() {
  auto logger = sluice::logger("alerts");
  std::chrono::milliseconds backoff{0};
  for (;;) {
    auto restored = restore();
    if (restored) break;
    backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
    logger->error("rule={} cannot start error=\"{}\" retry_in_ms={}", config_.name,
                  restored.error().message, backoff.count());
    set_state("retrying", restored.error().message);
    if (pause(backoff)) return;
  }
  set_state("running");
  logger->info("rule={} started from={} cooldown_ms={}", config_.name, fmt::join(config_.from, ","),
               config_.cooldown.count());
  auto next_checkpoint = std::chrono::steady_clock::now() + kCheckpointEvery;
  backoff = std::chrono::milliseconds{0};
  for (;;) {
    const auto [stopping, seen] = poll();
    bool any = false;
    if (!stopping && outbox_.size() < kMaxWaiting) {
      auto read = read_once();
      if (!read) {
        backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
        logger->error("rule={} error=\"{}\" retry_in_ms={}", config_.name, read.error().message,
                      backoff.count());
        set_state("retrying", read.error().message);
        if (pause(backoff)) break;
        continue;
      }
      any = read.value();
    }
    const auto now = std::chrono::steady_clock::now();
    if (dirty_ && (!outbox_.empty() || now >= next_checkpoint || stopping)) {
      if (auto saved = checkpoint(); !saved) {
        backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
        logger->error("rule={} checkpoint failed error=\"{}\" retry_in_ms={}", config_.name,
                      saved.error().message, backoff.count());
        set_state("retrying", saved.error().message);
        if (pause(backoff)) break;
        continue;
      }
      next_checkpoint = now + kCheckpointEvery;
      set_state("running");
    }
    backoff = std::chrono::milliseconds{0};
    if (stopping) break;
    if (any) continue;
    wait_for_news(seen, kCheckpointEvery);
  }
  set_state("stopped");
}

}  // namespace sluice::alerts
