#pragma once
// Every window definition and per-event alert rule of a configuration, each a client of the
// consumer runtime with its own thread, started, stopped, reloaded and reported together.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alerts/event_rule.h"
#include "config/config.h"
#include "log/log.h"
#include "windows/window_job.h"

namespace sluice::windows {

// Every window definition and per-event alert rule of a configuration.
// reload() (SIGHUP) starts added and changed ones and stops removed ones; the others run on.
class WindowSet {
 public:
  WindowSet(log::Log& log, std::string location) : log_(log), location_(std::move(location)) {}
  static std::unique_ptr<WindowSet> build(const Config& config, log::Log& log);
  void start();
  void stop();
  void notify();
  std::vector<WindowStatus> statuses() const;
  std::vector<alerts::EventRuleStatus> rule_statuses() const;
  // The window definition `name` as it runs now.
  std::optional<WindowConfig> find(const std::string& name) const;

  struct ReloadSummary {
    std::vector<std::string> added, changed, removed, unchanged;  // windows.x, alerts.y
  };
  ReloadSummary reload(const Config& config);

 private:
  // A window definition (with its rules) or a per-event rule, and what it was made from.
  struct Job {
    std::string fingerprint;
    std::unique_ptr<WindowJob> window;
    std::unique_ptr<alerts::EventRuleJob> rule;
    void start() { window ? window->start() : rule->start(); }
    void stop() { window ? window->stop() : rule->stop(); }
    void notify() { window ? window->notify() : rule->notify(); }
  };
  std::map<std::string, Job> jobs_of(const Config& config) const;

  log::Log& log_;
  const std::string location_;  // storage.windows: taken at start
  mutable std::mutex mutex_;    // guards jobs_ against statuses() and notify() during reload()
  std::map<std::string, Job> jobs_;
};

// {"windows":[{"name":..,"state":..,...}],"rules":[{"name":..,...}]} (rules: per-event alert
// rules).
std::string statuses_json(const std::vector<WindowStatus>& statuses,
                          const std::vector<alerts::EventRuleStatus>& rules = {});

}  // namespace sluice::windows
