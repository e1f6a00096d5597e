#include "windows/window_settings.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "expr/expression.h"
#include "windows/aggregate.h"

namespace sluice::windows {

namespace {

const config::Table& tumbling_table() {
  static const config::Table table{
      "tumbling",
      "Back-to-back windows of one size: `tumbling: 5m`.",
      {config::duration_setting("size", &WindowShapeConfig::size, "1m", 1, 366LL * 86'400'000,
                                "Window length.")},
      "size"};
  return table;
}

const config::Table& hopping_table() {
  static const config::Table table{
      "hopping",
      "Overlapping windows of `size`, one starting every `every`: `hopping: {size: 5m, every: "
      "1m}`.",
      {config::duration_setting("size", &WindowShapeConfig::size, "5m", 1, 366LL * 86'400'000,
                                "Window length."),
       config::duration_setting("every", &WindowShapeConfig::every, "1m", 1, 366LL * 86'400'000,
                                "How often a window starts; `size` must be a multiple of it.")}};
  return table;
}

const config::Table& session_table() {
  static const config::Table table{
      "session",
      "A window per key that lasts while its events come less than `gap` apart: `session: 30m`.",
      {config::duration_setting("gap", &WindowShapeConfig::gap, "30m", 1, 366LL * 86'400'000,
                                "Silence that ends a session.")},
      "gap"};
  return table;
}

std::optional<std::string> check_aggregates(const config::Scalar& v) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(v.text, ec);
  if (ec || !parsed.is_object() || parsed.get_object().empty()) {
    return "a mapping of result names to aggregates, such as {events: count, p99: p99(latency)}";
  }
  for (const auto& [name, text] : parsed.get_object()) {
    if (!text.is_string())
      return fmt::format("{}: write the aggregate as text", std::string_view(name));
    if (auto spec = windows::parse_aggregate(std::string(name), text.get_string()); !spec) {
      return fmt::format("{}: {}", std::string_view(name), spec.error().message);
    }
  }
  return std::nullopt;
}

}  // namespace

const config::Table& window_table() {
  static const config::Table table{
      "windows.<name>",
      "A window definition: aggregates per key over event-time windows of one or more streams "
      "(docs/streaming.md).",
      {
          config::string_list_setting("from", &WindowConfig::from, "[]",
                                      "Streams to read. Required."),
          config::string_setting("filter", &WindowConfig::filter, "",
                                 "Only events for which this expression is true count "
                                 "(docs/expressions.md); empty: all.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return std::nullopt;
                                   return expr::syntax_error(v.text);
                                 }),
          config::string_list_setting("key", &WindowConfig::key, "[]",
                                      "Fields whose values make the key (dotted paths); empty: one "
                                      "window for all events."),
          config::variant_setting<WindowConfig>("tumbling", tumbling_table(),
                                                [](WindowConfig& c, const std::string& key) {
                                                  c.kind = key;
                                                  ++c.kinds_given;
                                                  return &c.shape;
                                                }),
          config::variant_setting<WindowConfig>("hopping", hopping_table(),
                                                [](WindowConfig& c, const std::string& key) {
                                                  c.kind = key;
                                                  ++c.kinds_given;
                                                  return &c.shape;
                                                }),
          config::variant_setting<WindowConfig>("session", session_table(),
                                                [](WindowConfig& c, const std::string& key) {
                                                  c.kind = key;
                                                  ++c.kinds_given;
                                                  return &c.shape;
                                                }),
          config::document_setting(
              "aggregates", &WindowConfig::aggregates,
              "Result name -> aggregate: `count`, `sum(f)`, `avg(f)`, `min(f)`, "
              "`max(f)`, `count_distinct(f)`, `collect_set(f[, limit])`, `p50(f)`, "
              "`p90(f)`, `p95(f)`, `p99(f)`. Required.",
              check_aggregates),
          config::duration_setting(
              "allowed_lateness", &WindowConfig::allowed_lateness, "0s", 0, 366LL * 86'400'000,
              "How far behind the latest event time of its partition an event may "
              "be and still count (the watermark's distance)."),
          config::duration_setting(
              "idle_timeout", &WindowConfig::idle_timeout, "1m", 1, 86'400'000,
              "A partition with nothing to read for this long stops holding the "
              "watermark back."),
          config::duration_setting(
              "close_after_idle", &WindowConfig::close_after_idle, "0", 0, 366LL * 86'400'000,
              "When no event has arrived on any of the definition's partitions for this long, "
              "event time goes on with the wall clock from the latest event's time: the windows "
              "it passes close, with their final results and alerts, so a device that goes "
              "quiet gets its last window. An event that arrives later for a window closed this "
              "way is late (see `late`). 0: windows close only when later events arrive."),
          config::duration_setting(
              "checkpoint_every", &WindowConfig::checkpoint_every, "1s", 10, 3'600'000,
              "How often state, positions and closed windows' results are saved "
              "together; results appear at this pace."),
          config::duration_setting("early_updates", &WindowConfig::early_updates, "0s", 0,
                                   86'400'000,
                                   "Also publish open windows' results as they stand this often "
                                   "(`final: false`); 0: only final results."),
          config::string_setting("late", &WindowConfig::late, "dead_letters",
                                 "Stream that receives late events with the reason."),
          config::string_list_setting(
              "to", &WindowConfig::to, "[]",
              "Sinks (names under `sinks`) that get each result as it is "
              "stored (early updates and the final one), through a pipeline "
              "`results-<window>` with `upsert`: SQL sinks keep one row per "
              "window, key and start."),
          config::string_setting(
              "results_stream", &WindowConfig::results_stream, "window_results",
              "With `to`: the stream results pass through (added if not declared)."),
      }};
  return table;
}

}  // namespace sluice::windows
