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

#include "components/registry.h"
#include "config/places.h"
#include "expr/expression.h"
#include "store/pg_connection.h"
#include "validation/json_schema.h"
#include "windows/aggregate.h"

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

const Table& rate_limit_table() {
  static const Table table{
      "server.rate_limit",
      "Token-bucket limits per client. A client over a limit gets 429 with Retry-After, before "
      "its body is read. 0 turns a limit off.",
      {
          int_setting("per_ip", &RateLimitConfig::per_ip, 0, 0, 10'000'000,
                      "Posts per second from one client address."),
          int_setting("per_key", &RateLimitConfig::per_key, 0, 0, 10'000'000,
                      "Posts per second with one write key."),
          int_setting("reads_per_ip", &RateLimitConfig::reads_per_ip, 0, 0, 10'000'000,
                      "Reads (every GET but `/healthz` and `/readyz`: events, stats, tails, "
                      "`/metrics`...) per second from one client address."),
          int_setting("burst", &RateLimitConfig::burst, 0, 0, 10'000'000,
                      "Requests a client may send at once on top of the rate (the bucket size "
                      "is rate + burst)."),
      }};
  return table;
}

const Table& tls_table() {
  static const Table table{
      "server.tls",
      "HTTPS on the listener (TLS 1.2 and 1.3), with a certificate and its key in PEM files. "
      "SIGHUP reads them again (after a renewal): new connections get the new certificate. "
      "Unset: plain HTTP (put TLS in front of Sluice off loopback).",
      {
          string_setting("cert_file", &TlsConfig::cert_file, "",
                         "The certificate, followed by any intermediate certificates (PEM)."),
          string_setting("key_file", &TlsConfig::key_file, "",
                         "The certificate's private key (PEM, not encrypted). Keep it readable "
                         "by the Sluice user only."),
      }};
  return table;
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
                           "Time allowed to receive a request's headers from their first byte "
                           "(408 after it); also how long a new connection may stay silent."),
          duration_setting("body_timeout", &ServerConfig::body_timeout, "30s", 100, 3'600'000,
                           "Time allowed to receive a request's body once its headers are in."),
          duration_setting("idle_timeout", &ServerConfig::idle_timeout, "60s", 100, 3'600'000,
                           "How long a keep-alive connection may wait for its next request."),
          duration_setting("stop_timeout", &ServerConfig::stop_timeout, "10s", 0, 3'600'000,
                           "On SIGTERM, how long requests in progress may take to be answered "
                           "before their connections are closed anyway."),
          int_setting("max_connections", &ServerConfig::max_connections, 10000, 0, 1'000'000,
                      "Connections open at once; a connection beyond them is answered 503 with "
                      "Retry-After and closed. 0: no limit but the open-file limit."),
          int_setting("max_tails", &ServerConfig::max_tails, 100, 0, 100'000,
                      "Live tails (`GET /v1/tail`) open at once; one more is answered 503. "
                      "0: no limit."),
          bool_setting("trust_forwarded_for", &ServerConfig::trust_forwarded_for, false,
                       "Take the client address from the last entry of X-Forwarded-For (set "
                       "this behind a reverse proxy only: clients can forge the header)."),
          string_list_setting(
              "read_tokens", &ServerConfig::read_tokens, "[]",
              "Tokens that may read events, statistics, streams, dead letters, alerts, windows "
              "and pipelines, and `/metrics` (`Authorization: Bearer <token>`, or "
              "`?token=<token>` for a browser's EventSource). Empty: reads are open on a "
              "loopback listener (`127.0.0.1`, `::1`, `localhost`) and closed (401) on any "
              "other, unless `public_reads` is set. Write keys never read. `/healthz` and "
              "`/readyz` stay open. Use `${ENV_VAR}` rather than literal tokens."),
          bool_setting("public_reads", &ServerConfig::public_reads, false,
                       "Serve every read endpoint to anyone, with no token, even on a listener "
                       "that is not a loopback address. Stored events may hold personal data: "
                       "set this only when something in front of Sluice controls who reads. "
                       "Logged at start."),
          section_setting("rate_limit", &ServerConfig::rate_limit, rate_limit_table()),
          section_setting("tls", &ServerConfig::tls, tls_table()),
      }};
  return table;
}

const Table& storage_table() {
  static const Table table{
      "storage",
      "Where the embedded log and the SQLite store keep their files.",
      {
          string_setting("data_dir", &StorageConfig::data_dir, "./data",
                         "Directory for all data; created if missing."),
          string_setting("windows", &StorageConfig::windows, "",
                         "Where window definitions and alert rules keep checkpoints "
                         "and results: a SQLite file (relative to data_dir), or a "
                         "PostgreSQL URL (`postgresql://…`) for processes whose disk "
                         "does not outlive them. Empty: `windows.db`."),
      }};
  return table;
}

std::optional<std::string> check_backend(const Scalar& v) {
  if (v.text == "embedded" || v.text == "kafka") return std::nullopt;
  return "\"" + v.text + "\" is not a log backend; use embedded or kafka";
}

std::optional<std::string> check_retention_policy(const Scalar& v) {
  if (v.text == "protect" || v.text == "drop_oldest") return std::nullopt;
  return "\"" + v.text + "\" is not a retention policy; use protect or drop_oldest";
}

std::optional<std::string> check_store_url(const Scalar& v) {
  if (v.text.empty() || v.text.starts_with("postgresql://") || v.text.starts_with("postgres://")) {
    return std::nullopt;
  }
  return "\"" + v.text +
         "\" is not a PostgreSQL URL (postgresql://…); leave it empty for the "
         "embedded SQLite store";
}

std::optional<std::string> check_schema_name(const Scalar& v) {
  if (pg::plain_identifier(v.text)) return std::nullopt;
  return "\"" + v.text +
         "\" is not a schema name: lower-case letters, digits and _, not "
         "starting with a digit, at most 63";
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
          string_setting(
              "retention_policy", &LogConfig::retention_policy, "protect",
              "What retention may delete. `protect`: only segments every consumer (the store, "
              "pipelines, windows, alert rules) has processed; once a partition is at "
              "retention_bytes and the oldest segment is still needed, ingest answers 503 until "
              "the consumer catches up (retention_age waits the same way, without refusing). "
              "`drop_oldest`: the limits win; a consumer that finds events deleted before it read "
              "them skips them, logs the range and counts them "
              "(sluice_log_skipped_events_total). Embedded log only: with Kafka the brokers' "
              "retention applies.",
              check_retention_policy),
          section_setting("kafka", &LogConfig::kafka, kafka_table()),
      }};
  return table;
}

std::optional<std::string> check_schema(const Scalar& v) {
  auto compiled = validation::JsonSchema::compile(v.text);
  if (!compiled) return compiled.error().message;
  return std::nullopt;
}

const Table& sanitize_table() {
  static const Table table{
      "streams.<name>.sanitize",
      "Cleaning of text fields before validation. Form streams clean every top-level text "
      "field; other streams the ones listed here. Text must be valid UTF-8 in every stream.",
      {
          string_list_setting("fields", &SanitizeConfig::fields, "[]",
                              "Top-level fields to clean: trimmed, runs of whitespace made one "
                              "space, control characters removed. `\"*\"` cleans every "
                              "top-level text field."),
          string_list_setting("lowercase_fields", &SanitizeConfig::lowercase_fields, "[]",
                              "Top-level fields to lower-case, such as e-mail addresses (also "
                              "cleaned)."),
          int_setting("max_length", &SanitizeConfig::max_length, 0, 0, 1'000'000,
                      "Most characters a cleaned field may have; a longer one rejects the "
                      "event. 0: no limit."),
      }};
  return table;
}

const Table& privacy_table() {
  static const Table table{
      "streams.<name>.privacy",
      "Personal data handling, applied after validation and before anything is written.",
      {
          string_setting("ip_field", &PrivacyConfig::ip_field, "",
                         "Field to write the client's IP address into (an address the event "
                         "already carries there is kept). Empty: the address is not recorded.",
                         check_field_name),
          bool_setting("anonymize_ip", &PrivacyConfig::anonymize_ip, false,
                       "Zero the last octet of IPv4 and the last 80 bits of IPv6 addresses in "
                       "ip_field."),
          string_list_setting("hash_fields", &PrivacyConfig::hash_fields, "[]",
                              "Top-level fields replaced by the hex HMAC-SHA-256 of their text "
                              "under hash_key: still joinable, no longer readable."),
          string_list_setting("drop_fields", &PrivacyConfig::drop_fields, "[]",
                              "Top-level fields removed."),
          string_setting("hash_key", &PrivacyConfig::hash_key, "",
                         "Secret key for hash_fields (use `${ENV_VAR}`); required with them."),
      }};
  return table;
}

const Table& form_table() {
  static const Table table{
      "streams.<name>.form",
      "Lets HTML forms post to the stream at `/v1/forms/<name>`.",
      {
          bool_setting("enabled", &FormConfig::enabled, false,
                       "Accept `application/x-www-form-urlencoded` and JSON posts at "
                       "`/v1/forms/<name>`."),
          string_setting("redirect", &FormConfig::redirect, "",
                         "Answer an accepted form post with 303 to this URL (a thank-you page), "
                         "so a plain `<form>` works without JavaScript. Empty: answer 202 with "
                         "JSON."),
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
                      "lowered. On the embedded log each partition is its own file with its own "
                      "fdatasync: a group commit syncs every partition it touches (up to 8 at "
                      "once), so single-event requests spread over many partitions cost more "
                      "syncs than on one (docs/benchmarks.md)."),
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
          document_setting("schema", &StreamConfig::schema,
                           "JSON Schema (draft 7) every event must match, written inline in YAML "
                           "or JSON. Events that do not match are rejected (and dead-lettered).",
                           check_schema),
          string_setting("schema_file", &StreamConfig::schema_file, "",
                         "A JSON Schema file instead of an inline `schema` (relative paths are "
                         "relative to the working directory)."),
          string_setting("dead_letter", &StreamConfig::dead_letter, "",
                         "Stream that receives this stream's rejected events with the reason. "
                         "Empty: rejected events are only reported to the client."),
          string_list_setting("write_keys", &StreamConfig::write_keys, "[]",
                              "Keys a client must present to post here (`Authorization: Bearer "
                              "<key>`, `X-Sluice-Key: <key>` or `?key=<key>`); empty: no key "
                              "needed. Use `${ENV_VAR}` rather than literal keys."),
          string_list_setting(
              "hmac_secrets", &StreamConfig::hmac_secrets, "[]",
              "Shared secrets (16 characters or more) for signed posts: each POST must carry "
              "`X-Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + the "
              "body as sent>` made with one of them, within `hmac_tolerance` of the server's "
              "clock (401 otherwise). Several secrets let a new one be rolled out before the old "
              "one is removed. Empty: posts are not signed. Use `${ENV_VAR}`."),
          duration_setting("hmac_tolerance", &StreamConfig::hmac_tolerance, "5m", 1000,
                           24LL * 3'600'000,
                           "How far a signed post's timestamp may be from the server's clock, "
                           "either way: a captured request cannot be replayed after it."),
          string_list_setting(
              "stats_fields", &StreamConfig::stats_fields, "[]",
              "Up to 3 payload fields (nested ones joined by dots) that `GET /v1/stats` can group "
              "and filter by, besides the type and time: the store keeps per-minute counts by "
              "them as events arrive, so statistics over millions of events answer at once. "
              "Changing the list recounts the stream's stored events at the next start."),
          string_list_setting("envelope_fields", &StreamConfig::envelope_fields, "[events, batch]",
                              "A posted object with one of these fields holding an array is a "
                              "batch envelope: each array element is an event, and the "
                              "envelope's other fields are added to every event (the event's "
                              "own fields win)."),
          duration_setting(
              "max_future", &StreamConfig::max_future, "1h", 0, 366LL * 24 * 3'600'000,
              "How far an event's time (`time_field`) may be ahead of its arrival. A clock "
              "that is wrong, or a forged time, must not carry a window's watermark into the "
              "future: past this, `future_time` applies, and windows never let an event move "
              "a watermark further than arrival + max_future."),
          string_setting("future_time", &StreamConfig::future_time, "clamp",
                         "What happens to an event whose time is more than `max_future` ahead: "
                         "`clamp` keeps it with its envelope time (`ts`) set to its arrival "
                         "time, its payload keeping the time as sent; `dead_letter` rejects it "
                         "(400 when alone; kept in the dead-letter stream).",
                         [](const Scalar& v) -> std::optional<std::string> {
                           if (v.text == "clamp" || v.text == "dead_letter") return std::nullopt;
                           return "must be clamp or dead_letter";
                         }),
          string_setting(
              "ingest", &StreamConfig::ingest, "auto",
              "Whether clients may post to this stream over HTTP: `true`, `false`, or `auto`: "
              "yes, except for the streams Sluice writes itself (a dead-letter stream, an alert "
              "rule's stream, a window's `late` and `results_stream`), so that no one can forge "
              "an alert or a dead letter. A post to a closed stream is answered 403.",
              [](const Scalar& v) -> std::optional<std::string> {
                if (v.text == "auto" || v.text == "true" || v.text == "false") return std::nullopt;
                return "must be auto, true or false";
              }),
          section_setting("sanitize", &StreamConfig::sanitize, sanitize_table()),
          section_setting("privacy", &StreamConfig::privacy, privacy_table()),
          section_setting("form", &StreamConfig::form, form_table()),
      }};
  return table;
}

const Table& route_table() {
  static const Table table{
      "routes.<name>",
      "An extra POST path into a stream, so clients built for other collectors work "
      "unchanged. It accepts every body the stream's own endpoint accepts.",
      {
          string_setting("path", &RouteConfig::path, "", "The path, such as `/collect`."),
          string_setting("stream", &RouteConfig::stream, "", "The stream events go to."),
      }};
  return table;
}

const Table& store_table() {
  static const Table table{
      "store",
      "The store that the processor fills from the log and the query API reads: the embedded "
      "SQLite file, or a PostgreSQL database shared by API replicas.",
      {
          string_setting("url", &StoreConfig::url, "",
                         "A PostgreSQL connection URL (`postgresql://user@host:5432/db`, "
                         "`${PG_PASSWORD}` expanded from the environment) to keep the store in "
                         "that database; empty: the embedded SQLite file (`path`).",
                         check_store_url),
          string_setting("schema", &StoreConfig::schema, "sluice",
                         "PostgreSQL: the schema of the store's tables, created if missing "
                         "(lower-case letters, digits and _).",
                         check_schema_name),
          string_setting("path", &StoreConfig::path, "",
                         "SQLite database file; empty means `<data_dir>/sluice.db`."),
          int_setting("batch_max_events", &StoreConfig::batch_max_events, 5000, 1, 1'000'000,
                      "Most events the processor writes in one transaction."),
          duration_setting("batch_max_wait", &StoreConfig::batch_max_wait, "10ms", 0, 10'000,
                           "After writing a partial batch the processor waits this long for more "
                           "events before the next transaction (a full batch goes on at once). "
                           "The time after its 202 until an event shows in queries is at most "
                           "about this much more."),
          duration_setting("query_timeout", &StoreConfig::query_timeout, "10s", 0, 3'600'000,
                           "A read query (the query API, statistics, dead letters, alerts) that "
                           "runs longer is stopped and answered 503 naming this setting, so no "
                           "request can hold a read connection for long. 0: no limit."),
          int_setting("read_connections", &StoreConfig::read_connections, 4, 1, 64,
                      "Database connections kept open for queries, and as many threads to run them "
                      "on (a query never holds up an HTTP I/O thread)."),
      }};
  return table;
}

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
    "publish: {path: /publish, stream: events}";

// A table whose entry is exactly one of `kinds` (the component registry's sink or transform
// kinds), chosen by its key, with that kind's settings.
template <typename Kinds>
Table component_table(std::string name, std::string doc, const Kinds& kinds) {
  Table t{std::move(name), std::move(doc), {}};
  for (const auto& kind : kinds) {
    t.settings.push_back(variant_setting<ComponentConfig>(
        kind.name, *kind.table, [&kind](ComponentConfig& c, const std::string& key) {
          c.kind = key;
          c.settings = kind.make_settings();
          ++c.kinds_given;
          return c.settings.get();
        }));
  }
  return t;
}

const Table& sink_table() {
  static const Table table = component_table(
      "sinks.<name>",
      "A sink: one key naming its kind (`sqlite`, `postgres`, `file`, `webhook`, `kafka`, "
      "`stdout`, `log`) with that kind's settings (docs/pipelines.md).",
      components::sink_kinds());
  return table;
}

// One entry of pipelines.<name>.steps.
const Table& step_table() {
  static const Table table =
      component_table("step", "A step: one key naming its kind with that kind's settings.",
                      components::transform_kinds());
  return table;
}

const Table& pipeline_batch_table() {
  static const Table table{
      "pipelines.<name>.batch",
      "How much a pipeline hands its sinks at once.",
      {
          int_setting("max_events", &PipelineBatchConfig::max_events, 1000, 1, 1'000'000,
                      "Most events per batch."),
          size_setting("max_bytes", &PipelineBatchConfig::max_bytes, "4MiB", 1024, 1LL << 30,
                       "Most bytes of events per batch (at least one event)."),
          duration_setting("max_wait", &PipelineBatchConfig::max_wait, "100ms", 0, 60'000,
                           "After a batch that was not full, how long to let the next one "
                           "fill."),
      }};
  return table;
}

std::optional<std::string> check_start(const Scalar& v) {
  if (v.text == "earliest" || v.text == "latest") return std::nullopt;
  return fmt::format("\"{}\" is not a start: use earliest or latest", v.text);
}

const Table& pipeline_table() {
  static const Table table{
      "pipelines.<name>",
      "A pipeline: reads its streams from the log as its own consumer group, runs the events "
      "through its steps and hands them to its sinks (docs/pipelines.md).",
      {
          string_list_setting("from", &PipelineConfig::from, "[]", "Streams to read. Required."),
          string_setting("start", &PipelineConfig::start, "earliest",
                         "Where a new pipeline starts: `earliest` (everything in the log) or "
                         "`latest` (events from now on). Later starts go on from the "
                         "committed positions.",
                         check_start),
          list_setting("steps", &PipelineConfig::steps, step_table(),
                       "Transforms, in order: `filter`, `route`, `remap`, `dedup`."),
          string_list_setting("to", &PipelineConfig::to, "[]",
                              "Sinks (names under `sinks`) that get the events. Required."),
          section_setting("batch", &PipelineConfig::batch, pipeline_batch_table()),
          string_setting("dead_letter", &PipelineConfig::dead_letter, "dead_letters",
                         "Stream for batches a sink rejects, with the reason; empty: such "
                         "events are logged and dropped."),
          bool_setting("upsert", &PipelineConfig::upsert, false,
                       "SQL sinks (`sqlite`, `postgres`) replace a stored row with the same "
                       "stream and id by the newer event, instead of keeping the first."),
      }};
  return table;
}

const Table& tumbling_table() {
  static const Table table{"tumbling",
                           "Back-to-back windows of one size: `tumbling: 5m`.",
                           {duration_setting("size", &WindowShapeConfig::size, "1m", 1,
                                             366LL * 86'400'000, "Window length.")},
                           "size"};
  return table;
}

const Table& hopping_table() {
  static const Table table{
      "hopping",
      "Overlapping windows of `size`, one starting every `every`: `hopping: {size: 5m, every: "
      "1m}`.",
      {duration_setting("size", &WindowShapeConfig::size, "5m", 1, 366LL * 86'400'000,
                        "Window length."),
       duration_setting("every", &WindowShapeConfig::every, "1m", 1, 366LL * 86'400'000,
                        "How often a window starts; `size` must be a multiple of it.")}};
  return table;
}

const Table& session_table() {
  static const Table table{
      "session",
      "A window per key that lasts while its events come less than `gap` apart: `session: 30m`.",
      {duration_setting("gap", &WindowShapeConfig::gap, "30m", 1, 366LL * 86'400'000,
                        "Silence that ends a session.")},
      "gap"};
  return table;
}

std::optional<std::string> check_aggregates(const Scalar& v) {
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

const Table& window_table() {
  static const Table table{
      "windows.<name>",
      "A window definition: aggregates per key over event-time windows of one or more streams "
      "(docs/streaming.md).",
      {
          string_list_setting("from", &WindowConfig::from, "[]", "Streams to read. Required."),
          string_setting("filter", &WindowConfig::filter, "",
                         "Only events for which this expression is true count "
                         "(docs/expressions.md); empty: all.",
                         [](const Scalar& v) -> std::optional<std::string> {
                           if (v.text.empty()) return std::nullopt;
                           return expr::syntax_error(v.text);
                         }),
          string_list_setting("key", &WindowConfig::key, "[]",
                              "Fields whose values make the key (dotted paths); empty: one "
                              "window for all events."),
          variant_setting<WindowConfig>("tumbling", tumbling_table(),
                                        [](WindowConfig& c, const std::string& key) {
                                          c.kind = key;
                                          ++c.kinds_given;
                                          return &c.shape;
                                        }),
          variant_setting<WindowConfig>("hopping", hopping_table(),
                                        [](WindowConfig& c, const std::string& key) {
                                          c.kind = key;
                                          ++c.kinds_given;
                                          return &c.shape;
                                        }),
          variant_setting<WindowConfig>("session", session_table(),
                                        [](WindowConfig& c, const std::string& key) {
                                          c.kind = key;
                                          ++c.kinds_given;
                                          return &c.shape;
                                        }),
          document_setting("aggregates", &WindowConfig::aggregates,
                           "Result name -> aggregate: `count`, `sum(f)`, `avg(f)`, `min(f)`, "
                           "`max(f)`, `count_distinct(f)`, `collect_set(f[, limit])`, `p50(f)`, "
                           "`p90(f)`, `p95(f)`, `p99(f)`. Required.",
                           check_aggregates),
          duration_setting("allowed_lateness", &WindowConfig::allowed_lateness, "0s", 0,
                           366LL * 86'400'000,
                           "How far behind the latest event time of its partition an event may "
                           "be and still count (the watermark's distance)."),
          duration_setting("idle_timeout", &WindowConfig::idle_timeout, "1m", 1, 86'400'000,
                           "A partition with nothing to read for this long stops holding the "
                           "watermark back."),
          duration_setting(
              "close_after_idle", &WindowConfig::close_after_idle, "0", 0, 366LL * 86'400'000,
              "When no event has arrived on any of the definition's partitions for this long, "
              "event time goes on with the wall clock from the latest event's time: the windows "
              "it passes close, with their final results and alerts, so a device that goes "
              "quiet gets its last window. An event that arrives later for a window closed this "
              "way is late (see `late`). 0: windows close only when later events arrive."),
          duration_setting("checkpoint_every", &WindowConfig::checkpoint_every, "1s", 10, 3'600'000,
                           "How often state, positions and closed windows' results are saved "
                           "together; results appear at this pace."),
          duration_setting("early_updates", &WindowConfig::early_updates, "0s", 0, 86'400'000,
                           "Also publish open windows' results as they stand this often "
                           "(`final: false`); 0: only final results."),
          string_setting("late", &WindowConfig::late, "dead_letters",
                         "Stream that receives late events with the reason."),
          string_list_setting("to", &WindowConfig::to, "[]",
                              "Sinks (names under `sinks`) that get each result as it is "
                              "stored (early updates and the final one), through a pipeline "
                              "`results-<window>` with `upsert`: SQL sinks keep one row per "
                              "window, key and start."),
          string_setting("results_stream", &WindowConfig::results_stream, "window_results",
                         "With `to`: the stream results pass through (added if not declared)."),
      }};
  return table;
}

const Table& alert_table() {
  static const Table table{
      "alerts.<name>",
      "An alert rule: over a window definition's results (`window`) or over single events "
      "(`from`). When its condition holds, one alert goes to the alerts stream and to the "
      "`notify` sinks (docs/streaming.md#alerts).",
      {
          string_setting("window", &AlertConfig::window, "",
                         "The window definition (under `windows`) whose results are checked: "
                         "one alert per key and window. Give either `window` or `from`."),
          string_list_setting("from", &AlertConfig::from, "[]",
                              "Streams whose events are checked one by one. Give either "
                              "`window` or `from`."),
          string_setting("when", &AlertConfig::when, "",
                         "Condition (docs/expressions.md) over a result (its key fields, "
                         "aggregates by name and `events`, such as `events > 5`) or over an "
                         "event (its fields, such as `type == \"TEMP\" && value > 90`). "
                         "Required.",
                         [](const Scalar& v) -> std::optional<std::string> {
                           if (v.text.empty()) return "an expression is required";
                           return expr::syntax_error(v.text);
                         }),
          string_list_setting("key", &AlertConfig::key, "[]",
                              "Per-event rules: fields whose values make the key that "
                              "`cooldown` applies to, such as `[device]`; empty: one key."),
          duration_setting("cooldown", &AlertConfig::cooldown, "0s", 0, 366LL * 86'400'000,
                           "Per-event rules: after an alert for a key, matching events of that "
                           "key less than this far from it in event time raise none (they are "
                           "counted in the next alert's `suppressed`); 0: every match alerts."),
          string_setting("start", &AlertConfig::start, "earliest",
                         "Per-event rules: where a new rule starts reading, `earliest` (the "
                         "whole log) or `latest` (events from now on).",
                         check_start),
          string_setting("severity", &AlertConfig::severity, "warning",
                         "Carried in the alert, such as `info`, `warning`, `critical`."),
          string_setting("message", &AlertConfig::message, "",
                         "Text of the alert; `{name}` is replaced by the value of that field of "
                         "the result (key fields, aggregates) or event, such as `{events} "
                         "critical incidents in {city}`."),
          string_setting("stream", &AlertConfig::stream, "alerts",
                         "Stream the alerts go to (added if not declared)."),
          string_list_setting("notify", &AlertConfig::notify, "[]",
                              "Sinks (names under `sinks`) that also get this rule's alerts, "
                              "through a pipeline `notify-<rule>` from the alerts stream; `log` "
                              "writes them to sluice's own log unless a sink has that name."),
      }};
  return table;
}

const Table& root_table() {
  static const Table table{
      "",
      "sluice.yaml",
      {
          section_setting("server", &Config::server, server_table()),
          section_setting("storage", &Config::storage, storage_table()),
          section_setting("log", &Config::log, log_table()),
          map_setting("streams", &Config::streams, stream_table(), kDefaultStreams,
                      "The streams events can be sent to, by name. Declared streams are added "
                      "to the defaults; `<name>: false` removes a default."),
          map_setting("routes", &Config::routes, route_table(), kDefaultRoutes,
                      "Extra collector paths, by name. Declared routes are added to the "
                      "defaults; `<name>: false` removes one, `routes: {}` all."),
          section_setting("store", &Config::store, store_table()),
          map_setting("sinks", &Config::sinks, sink_table(), "{}",
                      "Where pipelines deliver events, by name."),
          map_setting("pipelines", &Config::pipelines, pipeline_table(), "{}",
                      "Pipelines, by name: each reads streams, transforms and delivers to "
                      "sinks."),
          map_setting("windows", &Config::windows, window_table(), "{}",
                      "Window definitions, by name: aggregates per key over event-time "
                      "windows."),
          map_setting("alerts", &Config::alerts, alert_table(), "{}",
                      "Alert rules over window results or single events, by name."),
      }};
  return table;
}

std::string kind_names(bool sinks) {
  std::vector<std::string> names;
  if (sinks) {
    for (const auto& kind : components::sink_kinds())
      names.push_back(kind.name);
  } else {
    for (const auto& kind : components::transform_kinds())
      names.push_back(kind.name);
  }
  std::string out;
  for (const auto& name : names)
    out += (out.empty() ? "" : ", ") + name;
  return out;
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
      checks.add({"sinks", name}, fmt::format("give exactly one sink kind: {}", kind_names(true)));
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
    pipeline::TransformContext context{.pipeline = name, .sinks = pipeline.to};
    for (std::size_t i = 0; i < pipeline.steps.size(); ++i) {
      const auto& step = pipeline.steps[i];
      const std::string index = std::to_string(i);
      if (checks.has_error_under(fmt::format("{}.steps[{}]", path, i))) continue;
      if (step.kinds_given != 1) {
        checks.add({"pipelines", name, "steps", index},
                   fmt::format("give exactly one step kind: {}", kind_names(false)));
        continue;
      }
      // Building a step checks what its table cannot (route's sinks, for one).
      if (auto built =
              components::find_transform_kind(step.kind)->build(context, step.settings.get());
          !built) {
        checks.add({"pipelines", name, "steps", index, step.kind}, built.error().message);
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
    apply_table(node, sink_table(), &sink, "sinks.log", errors);
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
  apply_table(node, pipeline_table(), &pipeline, "pipelines." + name, errors);
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

// Rules that span settings: streams named elsewhere exist, schema files load, and so on.
// Default routes whose stream is not declared are left out; declared ones must name a stream.
void check_references(Config& config, Checks& checks, const YAML::Node& root) {
  const YAML::Node given_routes =
      root.IsMap() ? YAML::Node(static_cast<const YAML::Node&>(root)["routes"]) : YAML::Node();
  std::erase_if(config.routes, [&](const auto& item) {
    const bool declared =
        given_routes.IsMap() && static_cast<const YAML::Node&>(given_routes)[item.first];
    return !declared && !config.streams.contains(item.second.stream);
  });
  for (auto& [name, stream] : config.streams) {
    if (stream.dead_letter == name) {
      checks.add({"streams", name, "dead_letter"}, "a stream cannot be its own dead-letter stream");
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
  std::map<std::string, std::string> paths;
  for (const auto& [name, route] : config.routes) {
    if (route.path.size() < 2 || route.path[0] != '/' || route.path.starts_with("/v1/") ||
        route.path == "/metrics" || route.path == "/healthz" || route.path == "/readyz") {
      checks.add({"routes", name, "path"},
                 fmt::format("\"{}\" is not a free path: it must start with / and not be "
                             "/metrics, /healthz, /readyz or under /v1/",
                             route.path));
    } else if (auto [it, added] = paths.emplace(route.path, name); !added) {
      checks.add({"routes", name, "path"},
                 fmt::format("\"{}\" is also routes.{}.path", route.path, it->second));
    }
    if (!config.streams.contains(route.stream)) {
      checks.add({"routes", name, "stream"}, no_stream(config, route.stream));
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
    }
  }
  if (result.errors.empty()) add_implied_pipelines(result.config, result.errors);
  if (result.errors.empty() && result.config.log.backend == "kafka" &&
      result.config.log.kafka.brokers.empty()) {
    result.errors.push_back(
        {.path = "log.kafka.brokers", .message = "required with log.backend: kafka"});
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

bool is_loopback_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  std::string_view host = colon == std::string_view::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

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

std::string StreamConfig::allowed_origin(std::string_view origin) const {
  for (const auto& allowed : cors_origins) {
    if (allowed == "*" || allowed == origin) return std::string(origin);
  }
  return "";
}

std::string StorageConfig::windows_location() const {
  if (windows.starts_with("postgres://") || windows.starts_with("postgresql://")) return windows;
  const std::filesystem::path file = windows.empty() ? "windows.db" : windows;
  return file.is_absolute() ? file.string() : (std::filesystem::path(data_dir) / file).string();
}

std::string Config::store_path() const {
  if (!store.path.empty()) return store.path;
  return (std::filesystem::path(storage.data_dir) / "sluice.db").string();
}

}  // namespace sluice
