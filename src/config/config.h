#pragma once
// Sluice's configuration: the typed result of loading sluice.yaml (or the built-in defaults).
// Every setting is declared once, with its default, bounds and description, in a table beside
// the code it configures (http/server_settings.h, log/log_settings.h, store/store_settings.h,
// pipeline/pipeline_settings.h, components/component_settings.h, windows/window_settings.h,
// alerts/alert_settings.h; streams, routes and storage, which every part reads, here); this
// folder composes them into sluice.yaml's, checks the rules that span sections, and generates
// docs/configuration.md from them (`sluice config reference`).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "alerts/alert_settings.h"
#include "config/stream_settings.h"
#include "config/table.h"
#include "http/server_settings.h"
#include "log/log_settings.h"
#include "pipeline/pipeline_settings.h"
#include "store/store_settings.h"
#include "windows/window_settings.h"

namespace sluice {

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LogConfig log;
  std::map<std::string, StreamConfig> streams;
  std::map<std::string, RouteConfig> routes;
  StoreConfig store;
  std::map<std::string, ComponentConfig> sinks;
  std::map<std::string, PipelineConfig> pipelines;
  std::map<std::string, WindowConfig> windows;
  std::map<std::string, AlertConfig> alerts;
  // Streams added because a setting names them as where Sluice writes (dead letters, late
  // events, window results, alerts) and the file does not declare them.
  std::set<std::string> implied_streams;

  // The SQLite database file, resolved against data_dir.
  std::string store_path() const;
  // The streams' names, in order.
  std::vector<std::string> stream_names() const;
  // Each stream's stats_fields, by stream (what the store counts by).
  std::map<std::string, std::vector<std::string>> stats_fields() const;

  // The streams Sluice writes itself: dead letters, alerts, late events and window results.
  std::set<std::string> internal_streams() const;
  // Whether clients may post to `stream` over HTTP: `ingest: true`, or `auto` for a stream
  // that is not internal. Internal streams are closed so no one can forge an alert.
  bool accepts_posts(const StreamConfig& stream) const;
};

namespace config {

struct LoadResult {
  Config config;
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};

// Loads a YAML file; a YAML syntax error or an unreadable file is reported as an error too.
LoadResult load_file(const std::string& path);
// Loads YAML text (used by tests and for the built-in defaults).
LoadResult load_text(const std::string& yaml);
// The built-in defaults: what `sluice run` uses with no --config.
LoadResult load_defaults();

// "sluice.yaml:12:5: streams.web.kye_field: unknown key ..." one line per error.
std::string format_errors(const std::vector<ConfigError>& errors, const std::string& file);

// The configuration reference in Markdown, generated from the tables.
std::string reference_markdown();

}  // namespace config
}  // namespace sluice
