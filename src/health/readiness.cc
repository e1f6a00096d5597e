#include "health/readiness.h"

#include "core/json_text.h"

namespace sluice::health {
namespace {

// `check` as "name":{"ok":...}, after a comma unless it is the first of its object.
void append_check(std::string& out, bool& first, const Check& check) {
  if (!first) out += ',';
  first = false;
  append_json_string(out, check.name);
  out += check.ok ? ":{\"ok\":true" : ":{\"ok\":false";
  if (!check.state.empty()) {
    out += ",\"state\":";
    append_json_string(out, check.state);
  }
  if (!check.ok && !check.error.empty()) {
    out += ",\"error\":";
    append_json_string(out, check.error);
  }
  out += '}';
}

}  // namespace

void Checks::add(std::function<Check()> check) {
  entries_.push_back({.group = {}, .check = std::move(check), .checks = {}});
}

void Checks::add_group(std::string name, std::function<std::vector<Check>()> checks) {
  entries_.push_back({.group = std::move(name), .check = {}, .checks = std::move(checks)});
}

Readiness Checks::run() const {
  bool ready = true;
  bool first = true;
  std::string out = "{\"checks\":{";
  for (const auto& entry : entries_) {
    if (entry.group.empty()) {
      const Check check = entry.check();
      append_check(out, first, check);
      ready = ready && check.ok;
      continue;
    }
    if (!first) out += ',';
    first = false;
    append_json_string(out, entry.group);
    out += ":{";
    bool first_in_group = true;
    for (const auto& check : entry.checks()) {
      append_check(out, first_in_group, check);
      ready = ready && check.ok;
    }
    out += '}';
  }
  out += "},\"status\":";
  out += ready ? "\"ready\"}" : "\"not ready\"}";
  return {ready, std::move(out)};
}

}  // namespace sluice::health
