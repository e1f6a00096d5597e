#pragma once
// The settings every part reads: `streams` (a stream's partitions, fields, validation, keys,
// sanitising, privacy and forms), `routes` and `storage`. Declared with their defaults and
// documentation, as each part's own settings are beside its code.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/table.h"
#include "sources/kafka/kafka_source_settings.h"

namespace sluice {

struct StorageConfig {
  std::string data_dir;
  std::string windows;  // window checkpoints and results: SQLite file or PostgreSQL URL

  // storage.windows resolved: a PostgreSQL URL, or the SQLite file's path.
  std::string windows_location() const;
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

// A first-party id the server keeps in an HttpOnly cookie: it outlives the 7 days some
// browsers give cookies that scripts set.
struct IdCookieConfig {
  std::string name;  // the cookie's name; empty: no cookie
  std::string field = "browser_id";
  std::chrono::milliseconds max_age{395LL * 86'400'000};
  bool secure = false;
};

// Requests from known bots (by User-Agent) flagged, and optionally sent to a stream of their own.
struct BotsConfig {
  std::string field;   // set to what matched; empty: bots are not looked for
  std::string stream;  // their events go here instead; empty: they stay in this stream
  std::vector<std::string> user_agents;  // more markers, besides the built-in list
};

struct FormConfig {
  bool enabled = false;
  std::string redirect;
  std::string path;  // another path the form posts to (its old one), besides /v1/forms/<name>
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
  IdCookieConfig id_cookie;
  BotsConfig bots;
  FormConfig form;
  KafkaStreamConfig kafka;
  std::string ingest = "auto";  // auto | true | false: whether clients may post here over HTTP
  // How far an event's time may be ahead of its arrival, and what happens beyond: clamp (the
  // envelope's time becomes the arrival time; the payload keeps the original) or dead_letter.
  std::chrono::milliseconds max_future{3'600'000};
  std::string future_time = "clamp";

  // The value for Access-Control-Allow-Origin when a browser page at `origin` posts here, or
  // empty if that origin is not allowed.
  std::string allowed_origin(std::string_view origin) const;
};

// An extra path that posts into a stream, for clients that cannot change their URLs; or, with
// an analytics SDK's protocol, the endpoints that SDK posts to, under `path`.
struct RouteConfig {
  std::string name;
  std::string path;
  std::string stream;
  std::string protocol = "events";  // events | events-api | segment | posthog | snowplow
  int status = 202;                 // events: the status of an accepted post (202 or 200)

  bool sdk() const { return protocol != "events" && protocol != "events-api"; }
};

namespace config {

// An entry of `streams`, of `routes`, and the `storage` section.
const Table& stream_table();
const Table& route_table();
const Table& storage_table();

}  // namespace config
}  // namespace sluice
