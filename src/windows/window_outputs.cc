// What a window definition makes of its results besides storing them: alerts from its rules,
// and the results as events of its results stream.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "core/json_write.h"
#include "core/time.h"
#include "pipeline/message_template.h"
#include "windows/window_job.h"

namespace sluice::windows {

namespace json = boost::json;

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

}  // namespace sluice::windows
