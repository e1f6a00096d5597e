#include "windows/window_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/json_text.h"
#include "core/time.h"
#include "windows/window_store.h"

namespace sluice::windows {

namespace json = boost::json;

namespace {

json::value group_json(const std::optional<consume::GroupView>& group) {
  if (!group) return nullptr;
  json::array partitions;
  for (const auto& p : group->partitions)
    partitions.emplace_back(fmt::format("{}/{}", p.stream, p.index));
  return json::object{
      {"name", group->name}, {"member", group->member}, {"partitions", std::move(partitions)}};
}

}  // namespace

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
    auto open_store = [location = location_]() -> std::unique_ptr<consume::CheckpointStore> {
      return open_window_store(location);
    };
    jobs["alerts." + name] = {alert.source, nullptr,
                              std::make_unique<alerts::EventRuleJob>(
                                  alert, log_, open_store, config.streams.at(alert.stream),
                                  /*in_group=*/is_postgres_url(location_))};
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
    job.stop();
}

void WindowSet::notify() {
  std::lock_guard lock(mutex_);
  for (auto& [name, job] : jobs_)
    job.notify();
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
    job.stop();
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
        {"group", group_json(s.group)},
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
