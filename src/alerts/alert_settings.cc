#include "alerts/alert_settings.h"

#include "consume/start_setting.h"
#include "expr/expression.h"

namespace sluice::alerts {

const config::Table& alert_table() {
  static const config::Table table{
      "alerts.<name>",
      "An alert rule: over a window definition's results (`window`) or over single events "
      "(`from`). When its condition holds, one alert goes to the alerts stream and to the "
      "`notify` sinks (docs/streaming.md#alerts).",
      {
          config::string_setting(
              "window", &AlertConfig::window, "",
              "The window definition (under `windows`) whose results are checked: "
              "one alert per key and window. Give either `window` or `from`."),
          config::string_list_setting("from", &AlertConfig::from, "[]",
                                      "Streams whose events are checked one by one. Give either "
                                      "`window` or `from`."),
          config::string_setting(
              "when", &AlertConfig::when, "",
              "Condition (docs/expressions.md) over a result (its key fields, "
              "aggregates by name and `events`, such as `events > 5`) or over an "
              "event (its fields, such as `type == \"TEMP\" && value > 90`). "
              "Required.",
              [](const config::Scalar& v) -> std::optional<std::string> {
                if (v.text.empty()) return "an expression is required";
                return expr::syntax_error(v.text);
              }),
          config::string_list_setting("key", &AlertConfig::key, "[]",
                                      "Per-event rules: fields whose values make the key that "
                                      "`cooldown` applies to, such as `[device]`; empty: one key."),
          config::duration_setting(
              "cooldown", &AlertConfig::cooldown, "0s", 0, 366LL * 86'400'000,
              "Per-event rules: after an alert for a key, matching events of that "
              "key less than this far from it in event time raise none (they are "
              "counted in the next alert's `suppressed`); 0: every match alerts."),
          config::string_setting(
              "start", &AlertConfig::start, "earliest",
              "Per-event rules: where a new rule starts reading, `earliest` (the "
              "whole log) or `latest` (events from now on).",
              consume::check_start),
          config::string_setting("severity", &AlertConfig::severity, "warning",
                                 "Carried in the alert, such as `info`, `warning`, `critical`."),
          config::string_setting(
              "message", &AlertConfig::message, "",
              "Text of the alert; `{name}` is replaced by the value of that field of "
              "the result (key fields, aggregates) or event, such as `{events} "
              "critical incidents in {city}`."),
          config::string_setting("stream", &AlertConfig::stream, "alerts",
                                 "Stream the alerts go to (added if not declared)."),
          config::string_list_setting(
              "notify", &AlertConfig::notify, "[]",
              "Sinks (names under `sinks`) that also get this rule's alerts, "
              "through a pipeline `notify-<rule>` from the alerts stream; `log` "
              "writes them to sluice's own log unless a sink has that name."),
      }};
  return table;
}

}  // namespace sluice::alerts
