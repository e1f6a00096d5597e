#pragma once
// Sluice's configuration: the typed result of loading sluice.yaml (or the built-in defaults).
// Every field here is declared once, with its default, bounds and description, in the tables in
// config.cc; docs/configuration.md is generated from them (`sluice config reference`).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/table.h"

namespace sluice {

// Token buckets; 0 turns a limit off.
struct RateLimitConfig {
  int per_ip = 0;        // requests per second from one client address
  int per_key = 0;       // requests per second with one write key
  int reads_per_ip = 0;  // reads per second from one client address (probes excluded)
  int burst = 0;         // requests a client may send at once above the rate
};

struct TlsConfig {
  std::string cert_file;  // PEM: the certificate, then any intermediates
  std::string key_file;   // PEM private key
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ServerConfig {
  std::string listen;
  bool trust_forwarded_for = false;
  std::vector<std::string> read_tokens;  // empty: reads are open on a loopback listener only
  bool public_reads = false;             // reads open to anyone, whatever the listener
  int max_connections = 0;               // open connections; beyond: 503 (0: no limit)
  int max_tails = 0;                     // live tails (GET /v1/tail); beyond: 503
  RateLimitConfig rate_limit;
  TlsConfig tls;
  int io_threads = 0;
  std::uint64_t max_body_bytes = 0;
  std::chrono::milliseconds header_timeout{};
  std::chrono::milliseconds body_timeout{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds stop_timeout{};
};

// Whether a "host:port" listen address is a loopback one (127.0.0.0/8, ::1, localhost).
bool is_loopback_listen(std::string_view listen);

struct StorageConfig {
  std::string data_dir;
  std::string windows;  // window checkpoints and results: SQLite file or PostgreSQL URL

  // storage.windows resolved: a PostgreSQL URL, or the SQLite file's path.
  std::string windows_location() const;
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
  std::string retention_policy = "protect";    // or "drop_oldest"
};

struct SanitizeConfig {
  std::vector<std::string> fields;            // trimmed, whitespace collapsed, controls stripped
  std::vector<std::string> lowercase_fields;  // lower-cased (e-mail addresses)
  int max_length = 0;                         // characters per cleaned field; 0: no limit
};

struct PrivacyConfig {
  std::string ip_field;  // where the client's address is written; empty: not recorded
  bool anonymize_ip = false;
  std::vector<std::string> hash_fields;
  std::vector<std::string> drop_fields;
  std::string hash_key;
};

struct FormConfig {
  bool enabled = false;
  std::string redirect;
};

struct StreamConfig {
  std::string name;
  std::uint32_t partitions = 1;
  std::string id_field;
  std::string key_field;
  std::string time_field;
  std::string type_field;
  std::vector<std::string> cors_origins;
  std::string schema;  // JSON text; empty: no schema
  std::string schema_file;
  std::string dead_letter;
  std::vector<std::string> write_keys;
  std::vector<std::string> hmac_secrets;  // signed posts (core/signature.h); empty: unsigned
  std::chrono::milliseconds hmac_tolerance{300'000};
  std::vector<std::string> envelope_fields;
  std::vector<std::string> stats_fields;  // payload fields GET /v1/stats can group by (<= 3)
  SanitizeConfig sanitize;
  PrivacyConfig privacy;
  FormConfig form;
  std::string ingest = "auto";  // auto | true | false: whether clients may post here over HTTP
  // How far an event's time may be ahead of its arrival, and what happens beyond: clamp (the
  // envelope's time becomes the arrival time; the payload keeps the original) or dead_letter.
  std::chrono::milliseconds max_future{3'600'000};
  std::string future_time = "clamp";

  // The value for Access-Control-Allow-Origin when a browser page at `origin` posts here, or
  // empty if that origin is not allowed.
  std::string allowed_origin(std::string_view origin) const;
};

struct StoreConfig {
  std::string url;     // a PostgreSQL URL; empty: the SQLite file at `path`
  std::string schema;  // PostgreSQL: the schema of the store's tables
  std::string path;    // empty: <data_dir>/sluice.db
  int batch_max_events = 0;
  std::chrono::milliseconds batch_max_wait{};
  int read_connections = 0;
  std::chrono::milliseconds query_timeout{};  // a read query running longer is stopped
};

// An extra path that posts into a stream, for clients that cannot change their URLs.
struct RouteConfig {
  std::string name;
  std::string path;
  std::string stream;
};

// A sink (sinks.<name>) or a pipeline step: which kind it is comes from the one key given
// ("file", "filter", ...); the settings are that kind's own struct (components/registry.h).
struct ComponentConfig {
  std::string name;
  std::string kind;
  std::shared_ptr<void> settings;
  int kinds_given = 0;
  std::string source;  // sinks: the entry as JSON, to tell whether a reload changed it
};

struct PipelineBatchConfig {
  int max_events = 0;
  std::uint64_t max_bytes = 0;
  std::chrono::milliseconds max_wait{};
};

struct PipelineConfig {
  std::string name;
  std::vector<std::string> from;
  std::string start;  // earliest | latest
  std::vector<ComponentConfig> steps;
  std::vector<std::string> to;
  PipelineBatchConfig batch;
  std::string dead_letter;
  bool upsert = false;  // SQL sinks replace rows with the same (stream, id)
  std::string source;   // the entry and its sinks as JSON, to tell whether a reload changed it
};

// The size of a window definition's windows: `tumbling: 5m`, `hopping: {size: 5m, every: 1m}`
// or `session: {gap: 30m}` (docs/streaming.md).
struct WindowShapeConfig {
  std::chrono::milliseconds size{};
  std::chrono::milliseconds every{};
  std::chrono::milliseconds gap{};
};

struct WindowConfig {
  std::string name;
  std::vector<std::string> from;
  std::string filter;  // expression; empty: every event
  std::vector<std::string> key;
  std::string kind;  // tumbling | hopping | session
  int kinds_given = 0;
  WindowShapeConfig shape;
  std::string aggregates;  // JSON object: result name -> aggregate, such as "p99(latency)"
  std::chrono::milliseconds allowed_lateness{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds close_after_idle{};  // 0: windows close on event time only
  std::chrono::milliseconds checkpoint_every{};
  std::chrono::milliseconds early_updates{};
  std::string late;             // stream for late events
  std::vector<std::string> to;  // sinks that get every result version, upserted
  std::string results_stream;   // the stream results pass through on their way to `to`
  std::string source;           // the entry as JSON: a changed definition starts over
};

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

// Checks a "host:port" listen address; returns the error.
std::optional<std::string> check_listen(const std::string& listen);

// The configuration reference in Markdown, generated from the tables.
std::string reference_markdown();

}  // namespace config
}  // namespace sluice
