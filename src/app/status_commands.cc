#include "app/status_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/url.hpp>
#include <variant>
#include <vector>

#include "app/exit_codes.h"
#include "app/server_client.h"
#include "core/json_write.h"

namespace sluice {
namespace {

namespace json = boost::json;

std::string text_of(const json::value* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return std::string(v->get_string());
  return json_text(*v);
}

struct Column {
  std::string header;
  std::string field;   // a field of each item; "payload.x" reaches into the item's payload
  bool right = false;  // numbers
};

std::string cell_of(const json::object& item, const std::string& field) {
  const auto dot = field.find('.');
  if (dot == std::string::npos) return text_of(item.if_contains(field));
  const auto* inner = item.if_contains(field.substr(0, dot));
  if (!inner || !inner->is_object()) return "";
  return text_of(inner->get_object().if_contains(field.substr(dot + 1)));
}

// Each column as wide as its widest cell, so that long names do not push the others out of
// line; the last column is not padded.
void print_table(const json::array& items, const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> rows;
  rows.emplace_back();
  for (const auto& c : columns)
    rows.back().push_back(c.header);
  for (const auto& item : items) {
    rows.emplace_back();
    for (const auto& c : columns)
      rows.back().push_back(item.is_object() ? cell_of(item.get_object(), c.field) : "");
  }
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const bool last = i + 1 == row.size();
      if (columns[i].right) {
        line += fmt::format("{:>{}}", row[i], widths[i]);
      } else {
        line += last ? row[i] : fmt::format("{:<{}}", row[i], widths[i]);
      }
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    fmt::print("{}\n", line);
  }
}

// GET the path; its JSON, or the exit code once the failure is printed.
std::variant<json::value, int> get_json(const std::string& command, const ServerTarget& target,
                                        const std::string& path) {
  auto answer = get_from_server(command, target, path);
  if (const int* code = std::get_if<int>(&answer)) return *code;
  boost::system::error_code ec;
  auto parsed = json::parse(std::get<std::string>(answer), ec);
  if (ec || !parsed.is_object()) {
    fmt::print(stderr, "sluice {}: {} answered something other than JSON\n", command, target.url);
    return kExitFailure;
  }
  return parsed;
}

const json::array& list_in(const json::value& body, const char* name) {
  static const json::array kEmpty;
  const auto* list = body.as_object().if_contains(name);
  return list && list->is_array() ? list->get_array() : kEmpty;
}

int print_json(const json::value& body) {
  fmt::print("{}\n", json_text(body));
  return kExitOk;
}

}  // namespace

int run_pipelines_command(const ServerTarget& target, bool as_json) {
  auto body = get_json("pipelines", target, "/v1/pipelines");
  if (const int* code = std::get_if<int>(&body)) return *code;
  const auto& parsed = std::get<json::value>(body);
  if (as_json) return print_json(parsed);
  const auto& items = list_in(parsed, "pipelines");
  if (items.empty()) {
    fmt::print("no pipelines (add them under `pipelines:` in the configuration)\n");
    return kExitOk;
  }
  print_table(items, {{"NAME", "name"},
                      {"STATE", "state"},
                      {"LAG", "lag", true},
                      {"READ", "read", true},
                      {"DELIVERED", "delivered", true},
                      {"DEAD", "dead_lettered", true},
                      {"RETRIES", "retries", true},
                      {"LAST ERROR", "last_error"}});
  return kExitOk;
}

int run_windows_command(const ServerTarget& target, bool as_json) {
  auto body = get_json("windows", target, "/v1/windows");
  if (const int* code = std::get_if<int>(&body)) return *code;
  const auto& parsed = std::get<json::value>(body);
  if (as_json) return print_json(parsed);
  const auto& windows = list_in(parsed, "windows");
  const auto& rules = list_in(parsed, "rules");
  if (windows.empty() && rules.empty()) {
    fmt::print(
        "no windows or rules (add them under `windows:` and `alerts:` in the "
        "configuration)\n");
    return kExitOk;
  }
  if (!windows.empty()) {
    print_table(windows, {{"WINDOW", "name"},
                          {"STATE", "state"},
                          {"LAG", "lag", true},
                          {"READ", "read", true},
                          {"LATE", "late", true},
                          {"RESULTS", "results", true},
                          {"OPEN", "open_windows", true},
                          {"ALERTS", "alerts", true},
                          {"WATERMARK", "watermark"},
                          {"LAST ERROR", "last_error"}});
  }
  if (!rules.empty()) {
    if (!windows.empty()) fmt::print("\n");
    print_table(rules, {{"RULE", "name"},
                        {"STATE", "state"},
                        {"LAG", "lag", true},
                        {"READ", "read", true},
                        {"MATCHED", "matched", true},
                        {"ALERTS", "alerts", true},
                        {"SUPPRESSED", "suppressed", true},
                        {"LAST ERROR", "last_error"}});
  }
  return kExitOk;
}

int run_alerts_command(const ServerTarget& target, const std::string& rule, int limit,
                       bool as_json) {
  boost::urls::url path("/v1/alerts");
  path.params().append({"limit", std::to_string(limit)});
  if (!rule.empty()) path.params().append({"rule", rule});
  auto body = get_json("alerts", target, std::string(path.buffer()));
  if (const int* code = std::get_if<int>(&body)) return *code;
  const auto& parsed = std::get<json::value>(body);
  const auto& events = list_in(parsed, "events");
  if (as_json) {
    for (const auto& event : events)
      fmt::print("{}\n", json_text(event));
    return kExitOk;
  }
  if (events.empty()) {
    fmt::print("no alerts{}\n", rule.empty() ? "" : " from rule " + rule);
    return kExitOk;
  }
  print_table(events, {{"TIME", "ts"},
                       {"RULE", "payload.rule"},
                       {"SEVERITY", "payload.severity"},
                       {"MESSAGE", "payload.message"}});
  return kExitOk;
}

int run_tail_command(const ServerTarget& target, const std::vector<std::string>& streams,
                     const std::string& filter, bool payload_only) {
  boost::urls::url path("/v1/tail");
  for (const auto& stream : streams)
    path.params().append({"stream", stream});
  if (!filter.empty()) path.params().append({"filter", filter});
  int code = kExitOk;
  const int followed = follow_events(
      "tail", target, std::string(path.buffer()),
      [&](const std::string& event, const std::string& data) {
        if (event == "dropped") {
          boost::system::error_code ec;
          const auto parsed = json::parse(data, ec);
          const auto* error =
              !ec && parsed.is_object() ? parsed.as_object().if_contains("error") : nullptr;
          fmt::print(stderr, "sluice tail: dropped by the server: {}\n",
                     error ? text_of(error) : data);
          code = kExitFailure;
          return false;
        }
        if (event != "event") return true;
        if (payload_only) {
          boost::system::error_code ec;
          const auto parsed = json::parse(data, ec);
          const auto* payload =
              !ec && parsed.is_object() ? parsed.as_object().if_contains("payload") : nullptr;
          fmt::print("{}\n", payload ? json_text(*payload) : data);
        } else {
          fmt::print("{}\n", data);
        }
        std::fflush(stdout);  // one line as each event comes, also into a pipe
        return true;
      });
  return followed != kExitOk ? followed : code;
}

}  // namespace sluice
