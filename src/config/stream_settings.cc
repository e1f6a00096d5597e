#include "config/stream_settings.h"

#include <filesystem>

#include "validation/json_schema.h"

namespace sluice {
namespace config {
namespace {

std::optional<std::string> check_field_name(const Scalar& v) {
  if (v.text.size() > 256) return "field name is longer than 256 characters";
  return std::nullopt;
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

const Table& id_cookie_table() {
  static const Table table{
      "streams.<name>.id_cookie",
      "A first-party visitor id kept by the server in an `HttpOnly` cookie (docs/tracker.md): "
      "each post gets the cookie (a new id when it has none or a malformed one) and every event "
      "of the post gets the id in `field`. Browsers that cap the cookies scripts set at 7 days "
      "keep this one for `max_age`. The page must post to the same site (a path of its own "
      "domain behind a reverse proxy) for the browser to send it back.",
      {
          string_setting("name", &IdCookieConfig::name, "",
                         "The cookie's name (letters, digits, `_`, `-`); empty: no cookie.",
                         [](const Scalar& v) -> std::optional<std::string> {
                           if (v.text.size() > 64 ||
                               v.text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                                        "OPQRSTUVWXYZ0123456789_-") !=
                                   std::string::npos) {
                             return "use up to 64 letters, digits, '_' and '-'";
                           }
                           return std::nullopt;
                         }),
          string_setting("field", &IdCookieConfig::field, "browser_id",
                         "The event field that gets the id; it replaces a value the event "
                         "carries there.",
                         check_field_name),
          duration_setting("max_age", &IdCookieConfig::max_age, "395d", 60'000, 3650LL * 86'400'000,
                           "How long the browser keeps the cookie after the last post (each "
                           "post renews it). 395d: 13 months."),
          bool_setting("secure", &IdCookieConfig::secure, false,
                       "Mark the cookie `Secure` (sent over HTTPS only): set it when pages "
                       "reach Sluice over HTTPS."),
      }};
  return table;
}

const Table& bots_table() {
  static const Table table{
      "streams.<name>.bots",
      "Events from known bots and automated browsers, by the post's User-Agent (search engine "
      "crawlers, link previews, uptime checkers, HTTP libraries, headless browsers; a post "
      "without a User-Agent counts as one): flagged, and sent to a stream of their own if "
      "asked. Never dropped.",
      {
          string_setting("field", &BotsConfig::field, "",
                         "The event field set to the marker that matched (`googlebot`, "
                         "`headlesschrome`, `no user agent`); it replaces a value the event "
                         "carries there. Empty: bots are not looked for.",
                         check_field_name),
          string_setting("stream", &BotsConfig::stream, "",
                         "A declared stream that gets bots' events instead (with `field` set); "
                         "empty: they stay in this stream."),
          string_list_setting("user_agents", &BotsConfig::user_agents, "[]",
                              "More User-Agent markers, matched case-insensitively as parts "
                              "of the header, besides the built-in list (docs/tracker.md)."),
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
          string_setting("path", &FormConfig::path, "",
                         "Another path the form posts to, as `/v1/forms/<name>` does (its old "
                         "one, such as `/student-data-form/`, so pages and clients keep it). "
                         "Empty: none."),
      }};
  return table;
}

}  // namespace

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
          section_setting("id_cookie", &StreamConfig::id_cookie, id_cookie_table()),
          section_setting("bots", &StreamConfig::bots, bots_table()),
          section_setting("form", &StreamConfig::form, form_table()),
          section_setting("kafka", &StreamConfig::kafka, sources::kafka_stream_table()),
      }};
  return table;
}

const Table& route_table() {
  static const Table table{
      "routes.<name>",
      "An extra POST path into a stream, so clients built for other collectors work "
      "unchanged (it accepts every body the stream's own endpoint accepts); a read path in "
      "another system's shape (`events-api`); or the endpoints "
      "of an analytics SDK (`protocol`), so a site's Segment, PostHog or Snowplow code sends "
      "here once its host is changed (docs/compatibility.md).",
      {
          string_setting("path", &RouteConfig::path, "",
                         "The path, such as `/collect`. With an SDK's `protocol`: the prefix "
                         "of its endpoints, empty for the paths the SDK uses by default "
                         "(`/ingest` serves PostHog's `/batch` at `/ingest/batch`)."),
          string_setting("stream", &RouteConfig::stream, "", "The stream events go to."),
          int_setting("status", &RouteConfig::status, 202, 200, 202,
                      "`events`: the status of an accepted post: 202, or 200 for clients that "
                      "take only 200 for success (a rejected post is 400 either way)."),
          string_setting("protocol", &RouteConfig::protocol, "events",
                         "`events`: Sluice's own bodies at `path`. `events-api`: `GET path` "
                         "reads the stream's events back as the tracking API did (`GET "
                         "/events?event_type=&location_type=&component_name=&page_path=&limit=`, "
                         "a JSON array of events, newest first; docs/migrating.md). "
                         "`segment`: the Segment HTTP "
                         "tracking API (`/v1/track`, `/v1/page`, `/v1/identify`, `/v1/batch`, "
                         "…). `posthog`: PostHog's capture endpoints (`/batch`, `/e`, "
                         "`/capture`, `/i/v0/e`, with `/flags` and `/decide` answered). "
                         "`snowplow`: the Snowplow tracker protocol (`POST "
                         "/com.snowplowanalytics.snowplow/tp2`, `GET /i`).",
                         [](const Scalar& v) -> std::optional<std::string> {
                           if (v.text == "events" || v.text == "events-api" ||
                               v.text == "segment" || v.text == "posthog" || v.text == "snowplow") {
                             return std::nullopt;
                           }
                           return "must be events, events-api, segment, posthog or snowplow";
                         }),
      }};
  return table;
}

}  // namespace config

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

}  // namespace sluice
