#include "config/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace sluice {
namespace config {
namespace {

std::optional<std::string> check_listen_scalar(const Scalar& v) {
  return check_listen(v.text);
}

std::optional<std::string> check_field_name(const Scalar& v) {
  if (v.text.size() > 256) return "field name is longer than 256 characters";
  return std::nullopt;
}

const Table& server_table() {
  static const Table table{
      "server",
      "The HTTP server: collector, query API and health endpoints.",
      {
          string_setting("listen", &ServerConfig::listen, "127.0.0.1:7070",
                         "Address and port to listen on, `host:port`. Port 0 picks a free port "
                         "(the chosen one is logged).",
                         check_listen_scalar),
          int_setting("io_threads", &ServerConfig::io_threads, 2, 1, 256,
                      "Threads that parse requests and answer them."),
          size_setting("max_body_bytes", &ServerConfig::max_body_bytes, "10MiB", 1024, 1LL << 30,
                       "Largest request body accepted; larger bodies get 413."),
          duration_setting("header_timeout", &ServerConfig::header_timeout, "10s", 100, 3'600'000,
                           "Time allowed to receive a request's headers."),
          duration_setting("body_timeout", &ServerConfig::body_timeout, "30s", 100, 3'600'000,
                           "Time allowed to receive a request's body once its headers are in."),
          duration_setting("idle_timeout", &ServerConfig::idle_timeout, "60s", 100, 3'600'000,
                           "How long a keep-alive connection may wait for its next request."),
      }};
  return table;
}

const Table& storage_table() {
  static const Table table{"storage",
                           "Where the embedded log and the SQLite store keep their files.",
                           {
                               string_setting("data_dir", &StorageConfig::data_dir, "./data",
                                              "Directory for all data; created if missing."),
                           }};
  return table;
}

std::optional<std::string> check_backend(const Scalar& v) {
  if (v.text == "embedded" || v.text == "kafka") return std::nullopt;
  return "\"" + v.text + "\" is not a log backend; use embedded or kafka";
}

const Table& kafka_table() {
  static const Table table{
      "log.kafka",
      "Apache Kafka (or any Kafka-protocol broker) as the log, with `log.backend: kafka`. One "
      "topic per stream, `<topic_prefix><stream>`, with the stream's partition count; the "
      "event key is the message key. Events are acknowledged once every in-sync replica has "
      "them (acks=all, idempotent producer).",
      {
          string_setting("brokers", &KafkaConfig::brokers, "",
                         "Bootstrap servers, `host:port,host:port`. Required with the kafka "
                         "backend."),
          string_setting("topic_prefix", &KafkaConfig::topic_prefix, "",
                         "Prepended to the stream name to make the topic name."),
          duration_setting("delivery_timeout", &KafkaConfig::delivery_timeout, "30s", 1000,
                           3'600'000,
                           "How long an event may wait for the brokers before its request gets "
                           "503 (brokers unreachable)."),
          size_setting("max_in_flight_bytes", &KafkaConfig::max_in_flight_bytes, "64MiB", 1LL << 20,
                       1LL << 32,
                       "Events waiting for the brokers, at most; past it requests get 503 with "
                       "Retry-After instead of being buffered."),
          int_setting("replication_factor", &KafkaConfig::replication_factor, -1, -1, 16,
                      "Replicas of topics Sluice creates; -1 uses the brokers' default."),
      }};
  return table;
}

const Table& log_table() {
  static const Table table{
      "log",
      "The durable log. Every accepted event is made durable here before the HTTP answer. With "
      "the embedded backend it is written and fsync'd under data_dir, and requests arriving "
      "together share one write and one fdatasync (group commit); the group_commit, segment "
      "and retention settings apply to it.",
      {
          string_setting("backend", &LogConfig::backend, "embedded",
                         "`embedded` (files under data_dir, the default) or `kafka` (see "
                         "log.kafka).",
                         check_backend),
          size_setting("group_commit_max_bytes", &LogConfig::group_commit_max_bytes, "8MiB",
                       64LL * 1024, 1LL << 30,
                       "Most bytes written by one group commit; more pending data waits for "
                       "the next one."),
          duration_setting("group_commit_max_wait", &LogConfig::group_commit_max_wait, "0", 0, 1000,
                           "How long a group commit may wait for more requests to join it before "
                           "writing (it writes at once when group_commit_max_bytes is reached). "
                           "0 writes as soon as the previous sync is done: requests that arrive "
                           "meanwhile still share the next sync."),
          size_setting("segment_bytes", &LogConfig::segment_bytes, "128MiB", 1LL << 20, 1LL << 40,
                       "A partition's log is a series of segment files; a new one is started "
                       "once the newest reaches this size. Retention deletes whole segments."),
          size_setting("retention_bytes", &LogConfig::retention_bytes, "0", 0, 1LL << 50,
                       "Per partition: delete the oldest segments while the partition is larger "
                       "than this. 0 keeps everything. The newest segment is never deleted."),
          duration_setting("retention_age", &LogConfig::retention_age, "0", 0,
                           100LL * 365 * 86'400'000,
                           "Delete a segment once its newest data is older than this (checked "
                           "after writes and every 10 s). 0 keeps everything."),
          section_setting("kafka", &LogConfig::kafka, kafka_table()),
      }};
  return table;
}

const Table& stream_table() {
  static const Table table{
      "streams.<name>",
      "A stream: a named, ordered log of events. Events are POSTed to "
      "`/v1/streams/<name>/events`. The field settings name top-level fields of the event "
      "object; an empty name turns the field off.",
      {
          int_setting("partitions", &StreamConfig::partitions, 1, 1, 1024,
                      "Partitions of the stream's log. Events with the same key (or, without a "
                      "key, the same id) go to the same partition and stay in order; the "
                      "processor reads partitions independently. Can be raised later, not "
                      "lowered."),
          string_setting("id_field", &StreamConfig::id_field, "id",
                         "Field holding the client's event id, the idempotency key: an event "
                         "whose id is already stored is not stored again. Without it the "
                         "collector generates a UUIDv7.",
                         check_field_name),
          string_setting("key_field", &StreamConfig::key_field, "",
                         "Field holding the partition key (user id, city, device…).",
                         check_field_name),
          string_setting("time_field", &StreamConfig::time_field, "timestamp",
                         "Field holding the event time: ISO-8601 text or epoch seconds or "
                         "milliseconds. Without it the event time is the arrival time.",
                         check_field_name),
          string_list_setting(
              "cors_origins", &StreamConfig::cors_origins, "[]",
              "Origins of web pages allowed to post to this stream from a browser (CORS), such "
              "as `https://shop.example.com`; `\"*\"` allows any page. Preflight requests "
              "(OPTIONS) are answered for these origins."),
          string_setting("type_field", &StreamConfig::type_field, "type",
                         "Field holding the event type, used by `type=` filters.",
                         check_field_name),
      }};
  return table;
}

const Table& store_table() {
  static const Table table{
      "store",
      "The embedded SQLite store that the processor fills from the log and the query API "
      "reads.",
      {
          string_setting("path", &StoreConfig::path, "",
                         "Database file; empty means `<data_dir>/sluice.db`."),
          int_setting("batch_max_events", &StoreConfig::batch_max_events, 5000, 1, 1'000'000,
                      "Most events the processor writes in one transaction."),
          int_setting("read_connections", &StoreConfig::read_connections, 4, 1, 64,
                      "Database connections kept open for queries."),
      }};
  return table;
}

constexpr const char* kDefaultStreams =
    "events: {}\n"
    "web: {id_field: event_id, type_field: event_type, cors_origins: [\"*\"]}";

const Table& root_table() {
  static const Table table{
      "",
      "sluice.yaml",
      {
          section_setting("server", &Config::server, server_table()),
          section_setting("storage", &Config::storage, storage_table()),
          section_setting("log", &Config::log, log_table()),
          map_setting("streams", &Config::streams, stream_table(), kDefaultStreams,
                      "The streams events can be sent to, by name."),
          section_setting("store", &Config::store, store_table()),
      }};
  return table;
}

LoadResult load_node(const YAML::Node& root) {
  LoadResult result;
  apply_table(root, root_table(), &result.config, "", result.errors);
  // Report in file order; errors not tied to a line (defaults) come last.
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     auto rank = [](const ConfigError& e) {
                       return std::make_tuple(e.line == 0, e.line, e.column);
                     };
                     return rank(a) < rank(b);
                   });
  if (result.errors.empty() && result.config.streams.empty()) {
    result.errors.push_back({.path = "streams", .message = "at least one stream is required"});
  }
  if (result.errors.empty() && result.config.log.backend == "kafka" &&
      result.config.log.kafka.brokers.empty()) {
    result.errors.push_back(
        {.path = "log.kafka.brokers", .message = "required with log.backend: kafka"});
  }
  return result;
}

}  // namespace

std::optional<std::string> check_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return fmt::format("\"{}\" is not host:port (for example 127.0.0.1:7070)", listen);
  }
  int port = -1;
  auto port_text = std::string_view(listen).substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return fmt::format("\"{}\" has no valid port (0 to 65535)", listen);
  }
  return std::nullopt;
}

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

std::string StreamConfig::allowed_origin(std::string_view origin) const {
  for (const auto& allowed : cors_origins) {
    if (allowed == "*" || allowed == origin) return std::string(origin);
  }
  return "";
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (std::filesystem::path(storage.data_dir) / "sluice.db").string();
}

}  // namespace sluice
