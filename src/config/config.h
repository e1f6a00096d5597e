#pragma once
// Sluice's configuration: the typed result of loading sluice.yaml (or the built-in defaults).
// Every field here is declared once, with its default, bounds and description, in the tables in
// config.cc; docs/configuration.md is generated from them (`sluice config reference`).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/table.h"

namespace sluice {

struct ServerConfig {
  std::string listen;
  int io_threads = 0;
  std::uint64_t max_body_bytes = 0;
  std::chrono::milliseconds header_timeout{};
  std::chrono::milliseconds body_timeout{};
  std::chrono::milliseconds idle_timeout{};
};

struct StorageConfig {
  std::string data_dir;
};

struct KafkaConfig {
  std::string brokers;
  std::string topic_prefix;
  std::chrono::milliseconds delivery_timeout{};
  std::uint64_t max_in_flight_bytes = 0;
  int replication_factor = 0;
};

struct LogConfig {
  std::string backend = "embedded";
  KafkaConfig kafka;
  std::uint64_t group_commit_max_bytes = 8 << 20;
  std::chrono::milliseconds group_commit_max_wait{0};
  std::uint64_t segment_bytes = 128 << 20;
  std::uint64_t retention_bytes = 0;           // per partition; 0: keep everything
  std::chrono::milliseconds retention_age{0};  // 0: keep everything
};

struct StreamConfig {
  std::string name;
  std::uint32_t partitions = 1;
  std::string id_field;
  std::string key_field;
  std::string time_field;
  std::string type_field;
  std::vector<std::string> cors_origins;

  // The value for Access-Control-Allow-Origin when a browser page at `origin` posts here, or
  // empty if that origin is not allowed.
  std::string allowed_origin(std::string_view origin) const;
};

struct StoreConfig {
  std::string path;  // empty: <data_dir>/sluice.db
  int batch_max_events = 0;
  int read_connections = 0;
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  LogConfig log;
  std::map<std::string, StreamConfig> streams;
  StoreConfig store;

  // The SQLite database file, resolved against data_dir.
  std::string store_path() const;
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

// Checks a "host:port" listen address; returns the error.
std::optional<std::string> check_listen(const std::string& listen);

// The configuration reference in Markdown, generated from the tables.
std::string reference_markdown();

}  // namespace config
}  // namespace sluice
