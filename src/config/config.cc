#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "components/component_settings.h"
#include "config/places.h"
#include "expr/expression.h"
#include "validation/json_schema.h"

namespace sluice {
namespace config {
namespace {

constexpr const char* kDefaultStreams =
    "events: {dead_letter: dead_letters}\n"
    "web: {id_field: event_id, type_field: event_type, cors_origins: [\"*\"], "
    "dead_letter: dead_letters}\n"
    "contact:\n"
    "  form: {enabled: true}\n"
    "  dead_letter: dead_letters\n"
    "  cors_origins: [\"*\"]\n"
    "  sanitize: {lowercase_fields: [email], max_length: 5000}\n"
    "  schema:\n"
    "    type: object\n"
    "    required: [email, message]\n"
    "    properties:\n"
    "      name: {type: string, maxLength: 200}\n"
    "      email: {type: string, format: email}\n"
    "      message: {type: string, minLength: 1}\n"
    "dead_letters: {id_field: \"\", time_field: \"\", type_field: stream}";

constexpr const char* kDefaultRoutes =
    "collect: {path: /collect, stream: web}\n"
    "publish: {path: /publish, stream: events}\n"
    "segment: {protocol: segment, path: '', stream: web}\n"
    "posthog: {protocol: posthog, path: '', stream: web}\n"
    "snowplow: {protocol: snowplow, path: '', stream: web}";

// An entry of `pipelines`, with the registry's steps.
const Table& pipelines_table() {
  static const Table table = pipeline::pipeline_table(components::step_table());
  return table;
}

const Table& root_table() {
  static const Table table{
      "",
      "sluice.yaml",
      {
          section_setting("server", &Config::server, http::server_table()),
          section_setting("storage", &Config::storage, storage_table()),
          section_setting("log", &Config::log, log::log_table()),
          map_setting("streams", &Config::streams, stream_table(), kDefaultStreams,
                      "The streams events can be sent to, by name. Declared streams are added "
                      "to the defaults; `<name>: false` removes a default."),
          map_setting("routes", &Config::routes, route_table(), kDefaultRoutes,
                      "Extra collector paths, by name. Declared routes are added to the "
                      "defaults; `<name>: false` removes one, `routes: {}` all."),
          section_setting("store", &Config::store, store::store_table()),
          map_setting("sinks", &Config::sinks, components::sink_table(), "{}",
                      "Where pipelines deliver events, by name."),
          map_setting("pipelines", &Config::pipelines, pipelines_table(), "{}",
                      "Pipelines, by name: each reads streams, transforms and delivers to "
                      "sinks."),
          map_setting("windows", &Config::windows, windows::window_table(), "{}",
                      "Window definitions, by name: aggregates per key over event-time "
                      "windows."),
          map_setting("alerts", &Config::alerts, alerts::alert_table(), "{}",
                      "Alert rules over window results or single events, by name."),
      }};
  return table;
}

// Errors found once the file is loaded, placed at the setting they are about.
class Checks {
 public:
  Checks(const YAML::Node& root, std::vector<ConfigError>& errors) : root_(root), errors_(errors) {}

  // An error at root[keys...] (at the item `item` of that list); a key of digits is a list
  // index, written [i] in the path.
  void add(const std::vector<std::string_view>& keys, std::string message,
           std::string_view item = {}) {
    std::string path;
    for (auto key : keys) {
      const bool index = !key.empty() && std::all_of(key.begin(), key.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
      if (index) {
        path += fmt::format("[{}]", key);
      } else {
        path += (path.empty() ? "" : ".") + std::string(key);
      }
    }
    const Place place = place_of(root_, keys, item);
    errors_.push_back(
        {.path = path, .line = place.line, .column = place.column, .message = std::move(message)});
  }

  // Whether an error is already reported at or under `path`: what it names is then not
  // checked again, so one typo gives one error.
  bool has_error_under(const std::string& path) const {
    return std::any_of(errors_.begin(), errors_.end(), [&](const ConfigError& e) {
      return e.path == path || e.path.starts_with(path + ".") || e.path.starts_with(path + "[");
    });
  }

 private:
  const YAML::Node& root_;
  std::vector<ConfigError>& errors_;
};

template <typename Map>
std::vector<std::string> names_of(const Map& map) {
  std::vector<std::string> names;
  names.reserve(map.size());
  for (const auto& [name, entry] : map)
    names.push_back(name);
  return names;
}

std::string no_stream(const Config& config, const std::string& name) {
  return fmt::format("no stream named \"{}\"{}", name,
                     did_you_mean(name, names_of(config.streams)));
}

std::string no_sink(const Config& config, const std::string& name) {
  return fmt::format("no sink named \"{}\" under sinks{}", name,
                     did_you_mean(name, names_of(config.sinks)));
}

void check_pipelines(const Config& config, Checks& checks) {
  for (const auto& [name, sink] : config.sinks) {
    if (sink.kinds_given != 1 && !checks.has_error_under("sinks." + name)) {
      checks.add({"sinks", name},
                 fmt::format("give exactly one sink kind: {}", components::kind_names(true)));
    }
  }
  for (const auto& [name, pipeline] : config.pipelines) {
    const std::string path = "pipelines." + name;
    if (name.size() > 55) {
      checks.add({"pipelines", name}, "pipeline names have at most 55 characters");
    }
    if (pipeline.from.empty()) {
      checks.add({"pipelines", name, "from"}, "name at least one stream");
    }
    for (const auto& stream : pipeline.from) {
      if (!config.streams.contains(stream)) {
        checks.add({"pipelines", name, "from"}, no_stream(config, stream), stream);
      }
    }
    if (pipeline.to.empty()) {
      checks.add({"pipelines", name, "to"}, "name at least one sink");
    }
    if (pipeline.to.size() > 64) {
      checks.add({"pipelines", name, "to"}, "at most 64 sinks per pipeline");
    }
    for (const auto& sink : pipeline.to) {
      if (!config.sinks.contains(sink)) {
        checks.add({"pipelines", name, "to"}, no_sink(config, sink), sink);
      }
    }
    // A pipeline that reads its own dead-letter stream would read each event it rejects again,
    // reject it again, and so on without end.
    if (std::find(pipeline.from.begin(), pipeline.from.end(), pipeline.dead_letter) !=
        pipeline.from.end()) {
      checks.add({"pipelines", name, "dead_letter"},
                 fmt::format("\"{0}\" is also in from: the events this pipeline rejects "
                             "would come back to it for ever; set dead_letter to another "
                             "stream (or \"\" to drop them)",
                             pipeline.dead_letter));
    }
    for (std::size_t i = 0; i < pipeline.steps.size(); ++i) {
      const auto& step = pipeline.steps[i];
      const std::string index = std::to_string(i);
      if (checks.has_error_under(fmt::format("{}.steps[{}]", path, i))) continue;
      if (step.kinds_given != 1) {
        checks.add({"pipelines", name, "steps", index},
                   fmt::format("give exactly one step kind: {}", components::kind_names(false)));
        continue;
      }
      if (auto error = components::check_step(name, pipeline.to, step)) {
        checks.add({"pipelines", name, "steps", index, step.kind}, *error);
      }
    }
  }
}

// Names that end up in ids, URLs and pipeline names.
bool plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 55 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

void check_windows(const Config& config, Checks& checks) {
  for (const auto& [name, window] : config.windows) {
    const std::string path = "windows." + name;
    if (!plain_name(name)) {
      checks.add({"windows", name}, "window names have 1 to 55 letters, digits, _ or -");
    }
    if (window.from.empty()) {
      checks.add({"windows", name, "from"}, "name at least one stream");
    }
    for (const auto& stream : window.from) {
      if (!config.streams.contains(stream)) {
        checks.add({"windows", name, "from"}, no_stream(config, stream), stream);
      }
    }
    if (window.kinds_given != 1 && !checks.has_error_under(path)) {
      checks.add({"windows", name}, "give exactly one of tumbling, hopping, session");
    }
    if (window.kind == "hopping" &&
        window.shape.size % window.shape.every != std::chrono::milliseconds{0}) {
      checks.add({"windows", name, "hopping"}, "size must be a multiple of every");
    }
    if (window.aggregates.empty() && !checks.has_error_under(path + ".aggregates")) {
      checks.add({"windows", name, "aggregates"}, "name at least one aggregate");
    }
    for (const auto& sink : window.to) {
      if (!config.sinks.contains(sink)) {
        checks.add({"windows", name, "to"}, no_sink(config, sink), sink);
      }
    }
    if (!window.to.empty() && config.pipelines.contains("results-" + name)) {
      checks.add({"windows", name, "to"},
                 fmt::format("a pipeline is already named results-{}", name));
    }
  }
}

// What a window rule's condition can name: the window's key fields, its aggregates, `events`,
// `start` and `end`. A name that is none of them is null in every result, so the rule would
// never fire.
void check_window_rule_names(const Config& config, const std::string& rule,
                             const AlertConfig& alert, Checks& checks) {
  auto window = config.windows.find(alert.window);
  // What the results hold is unknown when the window's aggregates or key are in error.
  const std::string window_path = "windows." + alert.window;
  if (window == config.windows.end() || checks.has_error_under(window_path + ".aggregates") ||
      checks.has_error_under(window_path + ".key") ||
      checks.has_error_under("alerts." + rule + ".when")) {
    return;
  }
  auto when = expr::Expression::parse(alert.when);
  if (!when) return;
  std::vector<std::string> known;
  for (const auto& field : window->second.key) {
    known.push_back(field.substr(0, field.find('.')));
  }
  boost::system::error_code ec;
  const auto aggregates = boost::json::parse(window->second.aggregates, ec);
  if (!ec && aggregates.is_object()) {
    for (const auto& [name, text] : aggregates.get_object())
      known.emplace_back(name);
  }
  for (const char* name : {"events", "start", "end"})
    known.emplace_back(name);
  for (const auto& field : when.value().fields()) {
    if (std::find(known.begin(), known.end(), field) != known.end()) continue;
    std::string list;
    for (const auto& name : known)
      list += (list.empty() ? "" : ", ") + name;
    checks.add({"alerts", rule, "when"},
               fmt::format("\"{}\" is not in the results of window \"{}\" (they have {}){}", field,
                           alert.window, list, did_you_mean(field, known)));
  }
}

void check_alerts(const Config& config, Checks& checks) {
  for (const auto& [name, alert] : config.alerts) {
    if (!plain_name(name) || name.size() > 48) {
      checks.add({"alerts", name}, "rule names have 1 to 48 letters, digits, _ or -");
    }
    if (alert.window.empty() == alert.from.empty()) {
      checks.add({"alerts", name},
                 "give either window (a rule over window results) or from (a rule over single "
                 "events)");
    } else if (!alert.window.empty() && !config.windows.contains(alert.window)) {
      checks.add({"alerts", name, "window"},
                 fmt::format("no window named \"{}\" under windows{}", alert.window,
                             did_you_mean(alert.window, names_of(config.windows))));
    } else if (!alert.window.empty()) {
      check_window_rule_names(config, name, alert, checks);
    }
    if (!alert.window.empty() && (!alert.key.empty() || alert.cooldown.count() > 0)) {
      checks.add({"alerts", name},
                 "key and cooldown are for rules over single events (from); a window rule "
                 "alerts once per key and window");
    }
    for (const auto& stream : alert.from) {
      if (!config.streams.contains(stream)) {
        checks.add({"alerts", name, "from"}, no_stream(config, stream), stream);
      }
    }
    if (alert.when.empty() && !checks.has_error_under("alerts." + name + ".when")) {
      checks.add({"alerts", name, "when"}, "a condition is required");
    }
    for (const auto& sink : alert.notify) {
      if (sink != "log" && !config.sinks.contains(sink)) {
        checks.add({"alerts", name, "notify"}, no_sink(config, sink), sink);
      }
    }
    if (!alert.notify.empty() && config.pipelines.contains("notify-" + name)) {
      checks.add({"alerts", name, "notify"},
                 fmt::format("a pipeline is already named notify-{}", name));
    }
  }
}

// A pipeline the configuration implies: from `stream`, only the events whose `field` is
// `value`, to `sinks`; `log` is a log sink unless a sink has that name.
void add_implied_pipeline(Config& config, const std::string& name, const std::string& stream,
                          const std::string& field, const std::string& value,
                          const std::vector<std::string>& sinks, bool upsert,
                          std::vector<ConfigError>& errors) {
  if (std::ranges::find(sinks, "log") != sinks.end() && !config.sinks.contains("log")) {
    YAML::Node node;
    node["log"]["message"] = "alert {rule} ({severity}): {message}";
    ComponentConfig sink;
    apply_table(node, components::sink_table(), &sink, "sinks.log", errors);
    sink.name = "log";
    sink.source = yaml_to_json(node);
    config.sinks.emplace("log", std::move(sink));
  }
  YAML::Node node;
  node["from"].push_back(stream);
  node["steps"].push_back(YAML::Node());
  node["steps"][0]["filter"] = fmt::format("{} == \"{}\"", field, value);
  for (const auto& sink : sinks)
    node["to"].push_back(sink);
  // Events a sink refuses are dead-lettered where one is declared, else logged.
  node["dead_letter"] = config.streams.contains("dead_letters") ? "dead_letters" : "";
  node["upsert"] = upsert;
  PipelineConfig pipeline;
  apply_table(node, pipelines_table(), &pipeline, "pipelines." + name, errors);
  pipeline.name = name;
  pipeline.source = yaml_to_json(node);
  for (const auto& sink : pipeline.to) {
    if (auto it = config.sinks.find(sink); it != config.sinks.end()) {
      pipeline.source += "\n" + sink + ":" + it->second.source;
    }
  }
  config.pipelines.emplace(name, std::move(pipeline));
}

// A rule's `notify` is a pipeline notify-<rule> from the alerts stream; a window's `to` is a
// pipeline results-<window> from its results stream, upserting.
void add_implied_pipelines(Config& config, std::vector<ConfigError>& errors) {
  for (const auto& [name, alert] : config.alerts) {
    if (alert.notify.empty()) continue;
    add_implied_pipeline(config, "notify-" + name, alert.stream, "rule", name, alert.notify, false,
                         errors);
  }
  for (const auto& [name, window] : config.windows) {
    if (window.to.empty()) continue;
    add_implied_pipeline(config, "results-" + name, window.results_stream, "window", name,
                         window.to, true, errors);
  }
}

// Streams Sluice writes itself that a setting names but the file does not declare: dead
// letters, late events, window results and alerts. They are added as such, so that a rule or
// a window works without declaring where its output goes.
void add_implied_streams(Config& config, Checks& checks, std::vector<ConfigError>& errors) {
  struct Wanted {
    std::string name;
    std::string type_field;
    std::vector<std::string> keys;  // the setting that names it
  };
  std::vector<Wanted> wanted;
  for (const auto& [name, stream] : config.streams) {
    if (!stream.dead_letter.empty())
      wanted.push_back({stream.dead_letter, "stream", {"streams", name, "dead_letter"}});
  }
  for (const auto& [name, pipeline] : config.pipelines) {
    if (!pipeline.dead_letter.empty())
      wanted.push_back({pipeline.dead_letter, "stream", {"pipelines", name, "dead_letter"}});
  }
  for (const auto& [name, window] : config.windows) {
    if (!window.late.empty()) wanted.push_back({window.late, "stream", {"windows", name, "late"}});
    if (!window.to.empty())
      wanted.push_back({window.results_stream, "window", {"windows", name, "results_stream"}});
  }
  for (const auto& [name, alert] : config.alerts) {
    if (!alert.stream.empty()) wanted.push_back({alert.stream, "rule", {"alerts", name, "stream"}});
  }
  for (const auto& w : wanted) {
    if (config.streams.contains(w.name)) continue;
    if (!valid_entry_name(w.name)) {
      checks.add({w.keys[0], w.keys[1], w.keys[2]},
                 fmt::format("\"{}\" cannot be a stream name: use 1 to 64 letters, digits, "
                             "'_', '-', '.'",
                             w.name));
      continue;
    }
    YAML::Node node;
    node["id_field"] = "";
    node["time_field"] = "";
    node["type_field"] = w.type_field;
    StreamConfig& stream = config.streams[w.name];
    stream.name = w.name;
    apply_table(node, stream_table(), &stream, "streams." + w.name, errors);
    config.implied_streams.insert(w.name);
  }
}

// An SDK's endpoints: under a prefix (or none), once per protocol and prefix, into a stream
// that takes posts without a key when the SDK cannot send one.
void check_sdk_route(const Config& config, const std::string& name, const RouteConfig& route,
                     const YAML::Node& given_routes, Checks& checks) {
  const std::string& path = route.path;
  if (!path.empty() && (path[0] != '/' || path.back() == '/' || path.starts_with("/v1/") ||
                        path.find_first_of("{}?#* ") != std::string::npos)) {
    checks.add({"routes", name, "path"},
               fmt::format("\"{}\" is not a prefix: it is empty or starts with /, does not "
                           "end with / and is not under /v1/",
                           path));
  }
  // Told where the file declares it (a default entry has no line).
  const bool declared =
      given_routes.IsMap() && static_cast<const YAML::Node&>(given_routes)[name].IsDefined();
  for (const auto& [other_name, other] : config.routes) {
    if (declared && other_name != name && other.protocol == route.protocol && other.path == path) {
      checks.add({"routes", name, "path"},
                 fmt::format("routes.{} serves the {} endpoints under \"{}\" already", other_name,
                             route.protocol, path));
    }
  }
  auto stream = config.streams.find(route.stream);
  if (stream == config.streams.end()) {
    checks.add({"routes", name, "stream"}, no_stream(config, route.stream));
  } else if (route.protocol != "segment" && !stream->second.write_keys.empty()) {
    checks.add({"routes", name, "stream"},
               fmt::format("{} SDKs send no write key, and streams.{}.write_keys asks for one: "
                           "use a stream without write_keys",
                           route.protocol, route.stream));
  } else if (!stream->second.hmac_secrets.empty()) {
    checks.add({"routes", name, "stream"},
               fmt::format("SDKs do not sign their posts, and streams.{}.hmac_secrets asks for "
                           "signatures: use a stream without hmac_secrets",
                           route.stream));
  }
}

// Rules that span settings: streams named elsewhere exist, schema files load, and so on.
// Default routes whose stream is not declared are left out; declared ones must name a stream.
void check_references(Config& config, Checks& checks, const YAML::Node& root) {
  const YAML::Node given_routes =
      root.IsMap() ? YAML::Node(static_cast<const YAML::Node&>(root)["routes"]) : YAML::Node();
  std::erase_if(config.routes, [&](const auto& item) {
    const bool declared =
        given_routes.IsMap() && static_cast<const YAML::Node&>(given_routes)[item.first];
    if (declared) return false;
    auto stream = config.streams.find(item.second.stream);
    // An SDK's default endpoints stay away from a stream that asks for what the SDK does
    // not send (check_sdk_route says what when such a route is declared).
    return stream == config.streams.end() ||
           (item.second.sdk() &&
            (!stream->second.hmac_secrets.empty() ||
             (item.second.protocol != "segment" && !stream->second.write_keys.empty())));
  });
  for (auto& [name, stream] : config.streams) {
    if (stream.dead_letter == name) {
      checks.add({"streams", name, "dead_letter"}, "a stream cannot be its own dead-letter stream");
    }
    if (!stream.bots.stream.empty()) {
      if (!config.streams.contains(stream.bots.stream)) {
        checks.add({"streams", name, "bots", "stream"}, no_stream(config, stream.bots.stream),
                   stream.bots.stream);
      } else if (stream.bots.stream == name) {
        checks.add({"streams", name, "bots", "stream"},
                   "name another stream, or leave it empty to keep bots' events here");
      } else if (stream.bots.field.empty()) {
        checks.add({"streams", name, "bots", "field"},
                   "set a field: bots are looked for only when it is set");
      }
    }
    if (!stream.schema_file.empty()) {
      std::ifstream in(stream.schema_file);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        checks.add({"streams", name, "schema_file"},
                   fmt::format("cannot read \"{}\"", stream.schema_file));
      } else if (!stream.schema.empty()) {
        checks.add({"streams", name, "schema_file"}, "give either schema or schema_file");
      } else if (auto compiled = validation::JsonSchema::compile(text.str()); !compiled) {
        checks.add({"streams", name, "schema_file"},
                   stream.schema_file + ": " + compiled.error().message);
      } else {
        stream.schema = text.str();
      }
    }
    if (stream.stats_fields.size() > 3) {
      checks.add({"streams", name, "stats_fields"}, "at most 3 fields");
    }
    for (const auto& secret : stream.hmac_secrets) {
      if (secret.size() < 16) {
        checks.add({"streams", name, "hmac_secrets"},
                   "a secret has at least 16 characters (32 random bytes, hex-encoded, is what "
                   "`openssl rand -hex 32` makes)");
        break;
      }
    }
    for (const auto& field : stream.stats_fields) {
      const bool plain = !field.empty() && field.size() <= 256 && field.front() != '.' &&
                         field.back() != '.' && field.find("..") == std::string::npos &&
                         std::all_of(field.begin(), field.end(), [](unsigned char c) {
                           return std::isalnum(c) || c == '_' || c == '.';
                         });
      if (!plain || field == "type" || field == "bucket" || field == "count") {
        checks.add({"streams", name, "stats_fields"},
                   fmt::format("\"{}\" is not a field name for statistics (letters, digits and "
                               "_, nested fields joined by dots; not type, bucket or count)",
                               field),
                   field);
      }
    }
    if (!stream.privacy.hash_fields.empty() && stream.privacy.hash_key.empty()) {
      checks.add({"streams", name, "privacy", "hash_key"},
                 "required with hash_fields (a secret, such as ${SLUICE_HASH_KEY})");
    }
  }
  check_pipelines(config, checks);
  check_windows(config, checks);
  check_alerts(config, checks);
  // Paths of routes and forms: free, and each one's own.
  std::map<std::string, std::string> paths;
  auto check_path = [&](const std::string& path, const std::vector<std::string_view>& place,
                        const std::string& what) {
    if (path.size() < 2 || path[0] != '/' || path.starts_with("/v1/") || path == "/metrics" ||
        path == "/healthz" || path == "/readyz" || path == "/" || path == "/demo" ||
        path == "/tracker.js" || path == "/console.js" || path == "/console.css") {
      checks.add(place, fmt::format("\"{}\" is not a free path: it must start with / and not be "
                                    "/metrics, /healthz, /readyz, the console's or under /v1/",
                                    path));
    } else if (auto [it, added] = paths.emplace(path, what); !added) {
      checks.add(place, fmt::format("\"{}\" is also {}", path, it->second));
    }
  };
  for (const auto& [name, route] : config.routes) {
    if (checks.has_error_under("routes." + name + ".protocol")) continue;
    if (route.sdk()) {
      check_sdk_route(config, name, route, given_routes, checks);
      continue;
    }
    check_path(route.path, {"routes", name, "path"}, "routes." + name + ".path");
    if (!config.streams.contains(route.stream)) {
      checks.add({"routes", name, "stream"}, no_stream(config, route.stream));
    }
  }
  for (const auto& [name, stream] : config.streams) {
    if (stream.form.path.empty()) continue;
    check_path(stream.form.path, {"streams", name, "form", "path"},
               "streams." + name + ".form.path");
    if (!stream.form.enabled) {
      checks.add({"streams", name, "form", "path"}, "the form is not enabled (form.enabled)");
    }
  }
}

LoadResult load_node(const YAML::Node& root) {
  LoadResult result;
  apply_table(root, root_table(), &result.config, "", result.errors);
  if (result.errors.empty() && result.config.streams.empty()) {
    result.errors.push_back({.path = "streams", .message = "at least one stream is required"});
  }
  Checks checks(root, result.errors);
  add_implied_streams(result.config, checks, result.errors);
  check_references(result.config, checks, root);
  // What each sink and pipeline was loaded from: a reload restarts only what changed.
  if (root.IsMap()) {
    for (auto& [name, sink] : result.config.sinks)
      sink.source = yaml_to_json(root["sinks"][name]);
    for (auto& [name, window] : result.config.windows)
      window.source = yaml_to_json(root["windows"][name]);
    for (auto& [name, alert] : result.config.alerts)
      alert.source = yaml_to_json(root["alerts"][name]);
    for (auto& [name, pipeline] : result.config.pipelines) {
      pipeline.source = yaml_to_json(root["pipelines"][name]);
      for (const auto& sink : pipeline.to) {
        if (auto it = result.config.sinks.find(sink); it != result.config.sinks.end()) {
          pipeline.source += "\n" + sink + ":" + it->second.source;
        }
      }
      for (const auto& step : pipeline.steps)
        pipeline.source += components::step_files_fingerprint(step);
    }
  }
  if (result.errors.empty()) add_implied_pipelines(result.config, result.errors);
  if (result.errors.empty() && result.config.log.backend == "kafka" &&
      result.config.log.kafka.brokers.empty()) {
    result.errors.push_back(
        {.path = "log.kafka.brokers", .message = "required with log.backend: kafka"});
  }
  if (result.config.log.backend != "kafka") {
    for (const auto& [name, stream] : result.config.streams) {
      if (stream.kafka.topic.empty()) continue;
      result.errors.push_back(
          {.path = "streams." + name + ".kafka.topic", .message = "needs log.backend: kafka"});
    }
  }
  // Report in file order; errors not tied to a line (defaults) come last.
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     auto rank = [](const ConfigError& e) {
                       return std::make_tuple(e.line == 0, e.line, e.column);
                     };
                     return rank(a) < rank(b);
                   });
  return result;
}

}  // namespace

LoadResult load_text(const std::string& yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    LoadResult result;
    result.errors.push_back({.path = "",
                             .line = e.mark.line >= 0 ? e.mark.line + 1 : 0,
                             .column = e.mark.column >= 0 ? e.mark.column + 1 : 0,
                             .message = "YAML syntax: " + e.msg});
    return result;
  }
  return load_node(root);
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    LoadResult result;
    result.errors.push_back({.path = "", .message = "cannot read the file"});
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();
  return load_text(text.str());
}

LoadResult load_defaults() {
  return load_node(YAML::Node(YAML::NodeType::Undefined));
}

std::string format_errors(const std::vector<ConfigError>& errors, const std::string& file) {
  std::string out;
  for (const auto& e : errors) {
    std::string where = file;
    if (e.line > 0) where += fmt::format(":{}:{}", e.line, e.column);
    out += fmt::format("{}: {}{}{}\n", where, e.path, e.path.empty() ? "" : ": ", e.message);
  }
  return out;
}

std::string reference_markdown() {
  return reference_markdown(root_table(), "");
}

}  // namespace config

std::set<std::string> Config::internal_streams() const {
  std::set<std::string> names;
  for (const auto& [name, stream] : streams) {
    if (!stream.dead_letter.empty()) names.insert(stream.dead_letter);
  }
  for (const auto& [name, pipeline] : pipelines) {
    if (!pipeline.dead_letter.empty()) names.insert(pipeline.dead_letter);
  }
  for (const auto& [name, window] : windows) {
    names.insert(window.late);
    if (!window.to.empty()) names.insert(window.results_stream);
  }
  for (const auto& [name, alert] : alerts)
    names.insert(alert.stream);
  return names;
}

bool Config::accepts_posts(const StreamConfig& stream) const {
  if (stream.ingest != "auto") return stream.ingest == "true";
  return !internal_streams().contains(stream.name);
}

std::vector<std::string> Config::stream_names() const {
  std::vector<std::string> names;
  names.reserve(streams.size());
  for (const auto& [name, stream] : streams)
    names.push_back(name);
  return names;
}

std::map<std::string, std::vector<std::string>> Config::stats_fields() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, stream] : streams)
    out[name] = stream.stats_fields;
  return out;
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (std::filesystem::path(storage.data_dir) / "sluice.db").string();
}

}  // namespace sluice
