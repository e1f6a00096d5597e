#include "windows/window_report.h"

#include "core/time.h"

namespace sluice::windows {

void collect_metrics(const WindowSet& windows, metrics::Families& f) {
  const auto now = now_ms();
  for (const auto& s : windows.statuses()) {
    const metrics::Labels window = {{"window", s.name}};
    f.counter("sluice_window_events_read_total", "Events a window definition read.", window,
              metrics::as_double(s.read));
    f.counter("sluice_window_late_events_total",
              "Events that came after their window closed (sent to the late stream).", window,
              metrics::as_double(s.late));
    f.counter("sluice_window_results_total", "Final window results stored.", window,
              metrics::as_double(s.results));
    f.gauge("sluice_window_open_windows", "Windows open in memory (the state's size).", window,
            metrics::as_double(s.open_windows));
    if (s.watermark_ms) {
      f.gauge("sluice_window_watermark_delay_seconds",
              "How far the watermark is behind the wall clock.", window,
              static_cast<double>(now - *s.watermark_ms) / 1000);
    }
    if (s.lag) {
      f.gauge("sluice_window_lag_events", "Events in the log a window definition has not read.",
              window, metrics::as_double(*s.lag));
    }
    f.gauge("sluice_window_up",
            "1 while a window definition is running (not starting, retrying or stopped).", window,
            s.state == "running" ? 1 : 0);
    for (const auto& [rule, alerts] : s.alerts_by_rule) {
      f.counter("sluice_alerts_fired_total", "Alerts raised, by rule and window definition.",
                {{"window", s.name}, {"rule", rule}}, metrics::as_double(alerts));
    }
  }
  for (const auto& r : windows.rule_statuses()) {
    f.counter("sluice_alerts_fired_total", "Alerts raised, by rule and window definition.",
              {{"window", ""}, {"rule", r.name}}, metrics::as_double(r.alerts));
    f.counter("sluice_alerts_suppressed_total",
              "Matches of a per-event rule held back by its cooldown.", {{"rule", r.name}},
              metrics::as_double(r.suppressed));
    if (r.lag) {
      f.gauge("sluice_alert_rule_lag_events", "Events in the log an alert rule has not read.",
              {{"rule", r.name}}, metrics::as_double(*r.lag));
    }
  }
}

std::vector<health::Check> readiness(const WindowSet& windows) {
  std::vector<health::Check> checks;
  for (const auto& s : windows.statuses()) {
    checks.push_back(
        {.name = s.name, .ok = s.state != "retrying", .error = s.last_error, .state = s.state});
  }
  for (const auto& r : windows.rule_statuses()) {
    checks.push_back({.name = "alerts." + r.name,
                      .ok = r.state != "retrying",
                      .error = r.last_error,
                      .state = r.state});
  }
  return checks;
}

}  // namespace sluice::windows
