#pragma once
// An entry of `alerts`: a rule over window results or single events (docs/streaming.md#alerts).

#include <chrono>
#include <string>
#include <vector>

#include "config/table.h"

namespace sluice {

// An alert rule (docs/streaming.md#alerts): over a window definition's results (`window`), or
// over single events of streams (`from`).
struct AlertConfig {
  std::string name;
  std::string window;             // windows.<name> whose results the rule looks at
  std::vector<std::string> from;  // or: streams whose events the rule looks at one by one
  std::string when;               // expression over the result or the event
  std::vector<std::string> key;   // per-event rules: fields that make the key the cooldown is per
  std::chrono::milliseconds cooldown{};  // per-event rules: quiet time per key after an alert
  std::string start;                     // per-event rules: earliest | latest
  std::string severity;                  // free text, such as warning or critical
  std::string message;                   // template: {field} is replaced by the result's value
  std::string stream;                    // where alerts go
  std::vector<std::string> notify;       // sinks (or `log`) that get this rule's alerts
  std::string source;  // the entry as JSON: a changed per-event rule starts afresh
};

namespace alerts {

// An entry of `alerts`.
const config::Table& alert_table();

}  // namespace alerts
}  // namespace sluice
