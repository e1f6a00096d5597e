#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

namespace sluice::config {
namespace {

using ::testing::HasSubstr;

TEST(Config, DefaultsNeedNoFile) {
  auto loaded = load_defaults();
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "defaults");
  const auto& c = loaded.config;
  EXPECT_EQ(c.server.listen, "127.0.0.1:7070");
  EXPECT_EQ(c.server.max_body_bytes, 10u << 20);
  EXPECT_EQ(c.server.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.storage.data_dir, "./data");
  ASSERT_EQ(c.streams.size(), 4u);
  EXPECT_EQ(c.streams.at("web").dead_letter, "dead_letters");
  EXPECT_TRUE(c.streams.at("contact").form.enabled);
  EXPECT_FALSE(c.streams.at("contact").schema.empty());
  EXPECT_EQ(c.streams.at("events").envelope_fields, (std::vector<std::string>{"events", "batch"}));
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes.at("collect").path, "/collect");
  EXPECT_EQ(c.routes.at("collect").stream, "web");
  EXPECT_EQ(c.routes.at("publish").stream, "events");
  EXPECT_EQ(c.streams.at("events").id_field, "id");
  EXPECT_EQ(c.streams.at("events").type_field, "type");
  EXPECT_EQ(c.streams.at("web").id_field, "event_id");
  EXPECT_EQ(c.streams.at("web").type_field, "event_type");
  EXPECT_EQ(c.streams.at("web").name, "web");
  EXPECT_EQ(c.streams.at("web").cors_origins, std::vector<std::string>{"*"});
  EXPECT_TRUE(c.streams.at("events").cors_origins.empty());
  EXPECT_EQ(c.streams.at("web").allowed_origin("https://a.example"), "https://a.example");
  EXPECT_EQ(c.streams.at("events").allowed_origin("https://a.example"), "");
  EXPECT_EQ(c.store_path(), "./data/sluice.db");
}

TEST(Config, SchemasInYamlBecomeJson) {
  auto loaded = load_text(R"(
streams:
  iot:
    schema:
      type: object
      required: [device]
      properties:
        device: {type: string, pattern: "^d-[0-9]+$"}
        temp: {type: number, maximum: 90.5, enum: [1, "2", null, true]}
)");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  EXPECT_EQ(
      loaded.config.streams.at("iot").schema,
      R"({"type":"object","required":["device"],"properties":{"device":{"type":"string",)"
      R"("pattern":"^d-[0-9]+$"},"temp":{"type":"number","maximum":90.5,"enum":[1,"2",null,true]}}})");
  EXPECT_TRUE(loaded.config.routes.empty()) << "default routes to undeclared streams are dropped";
}

TEST(Config, CrossReferencesAreChecked) {
  auto loaded = load_text(R"(
streams:
  a: {dead_letter: nowhere, schema: {type: 7}}
  b: {dead_letter: b, privacy: {hash_fields: [email]}}
routes:
  r1: {path: /v1/x, stream: a}
  r2: {path: /in, stream: missing}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_THAT(text, HasSubstr("streams.a.schema: the schema is invalid"));
  EXPECT_THAT(text, HasSubstr("streams.a.dead_letter: no stream named \"nowhere\""));
  EXPECT_THAT(text, HasSubstr("streams.b.dead_letter: a stream cannot be its own dead-letter"));
  EXPECT_THAT(text, HasSubstr("streams.b.privacy.hash_key: required with hash_fields"));
  EXPECT_THAT(text, HasSubstr("routes.r1.path: \"/v1/x\" is not a free path"));
  EXPECT_THAT(text, HasSubstr("routes.r2.stream: no stream named \"missing\""));
}

// A pipeline reading its own dead-letter stream dead-lettered into it without end.
TEST(Config, ADeadLetterLoopIsRefused) {
  auto loaded = load_text(R"(
streams:
  events: {}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
sinks:
  out: {file: {path: out.ndjson}}
pipelines:
  retry: {from: [events, dead_letters], to: [out]}
  ok: {from: [events], to: [out]}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_THAT(text, HasSubstr("pipelines.retry.dead_letter: \"dead_letters\" is also in from"));
  EXPECT_THAT(text, Not(HasSubstr("pipelines.ok")));
}

// Internal streams take no posts unless they opt in; any stream can opt out.
TEST(Config, InternalStreamsAreClosedToPosts) {
  auto loaded = load_text(R"(
streams:
  events: {dead_letter: dead_letters}
  closed: {ingest: "false"}
  dead_letters: {id_field: "", time_field: "", type_field: stream}
  alerts: {id_field: "", time_field: "", type_field: rule, ingest: "true"}
alerts:
  hot: {from: [events], when: 'value > 90'}
)");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  const auto& c = loaded.config;
  EXPECT_TRUE(c.accepts_posts(c.streams.at("events")));
  EXPECT_FALSE(c.accepts_posts(c.streams.at("closed")));
  EXPECT_FALSE(c.accepts_posts(c.streams.at("dead_letters")));
  EXPECT_TRUE(c.accepts_posts(c.streams.at("alerts")));
  EXPECT_FALSE(load_text("streams: {a: {ingest: maybe}}").ok());
}

TEST(Config, ReadsValuesWithUnits) {
  auto loaded = load_text(R"(
server:
  listen: 0.0.0.0:9000
  max_body_bytes: 64KiB
  body_timeout: 2m
storage:
  data_dir: /var/lib/sluice
streams:
  iot: {key_field: device, time_field: ts}
)");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.config.server.listen, "0.0.0.0:9000");
  EXPECT_EQ(loaded.config.server.max_body_bytes, 65536u);
  EXPECT_EQ(loaded.config.server.body_timeout, std::chrono::minutes(2));
  ASSERT_EQ(loaded.config.streams.size(), 1u);  // given streams replace the defaults
  EXPECT_EQ(loaded.config.streams.at("iot").key_field, "device");
  EXPECT_EQ(loaded.config.streams.at("iot").id_field, "id");  // entry defaults apply
}

TEST(Config, UnknownKeyNamesPathLineAndValidKeys) {
  auto loaded = load_text("server:\n  listen: 127.0.0.1:1\nstreams:\n  web:\n    kye_field: x\n");
  ASSERT_EQ(loaded.errors.size(), 1u);
  const auto& e = loaded.errors[0];
  EXPECT_EQ(e.path, "streams.web.kye_field");
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.column, 5);
  EXPECT_THAT(e.message,
              HasSubstr("partitions, id_field, key_field, time_field, cors_origins, type_field"));
  EXPECT_THAT(format_errors(loaded.errors, "s.yaml"),
              HasSubstr("s.yaml:5:5: streams.web.kye_field"));
}

TEST(Config, ReportsEveryErrorAtOnce) {
  auto loaded = load_text(R"(
server:
  io_threads: 0
  max_body_bytes: lots
  header_timeout: 5 minutes
  lisen: x
loggg: {}
)");
  ASSERT_EQ(loaded.errors.size(), 5u) << format_errors(loaded.errors, "x");
  auto text = format_errors(loaded.errors, "x");
  EXPECT_THAT(text, HasSubstr("x:3:15: server.io_threads: 0 is out of range: must be 1 to 256"));
  EXPECT_THAT(text, HasSubstr("server.max_body_bytes: expected a size"));
  EXPECT_THAT(text, HasSubstr("server.header_timeout: expected a duration"));
  EXPECT_THAT(text, HasSubstr("server.lisen: unknown key"));
  EXPECT_THAT(text, HasSubstr("loggg: unknown key \"loggg\"; valid keys: server, storage, log, "
                              "streams, routes, store"));
}

TEST(Config, ListsOfStrings) {
  auto loaded = load_text(
      "streams:\n  s: {cors_origins: [\"https://a.example\", "
      "\"${SLUICE_TEST_NOPE:-https://b.example}\"]}\n");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.config.streams.at("s").cors_origins,
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
  auto scalar = load_text("streams:\n  s: {cors_origins: https://a.example}\n");
  ASSERT_EQ(scalar.errors.size(), 1u);
  EXPECT_THAT(scalar.errors[0].message, HasSubstr("expected a list of strings"));
}

TEST(Config, ChecksListenAddress) {
  auto loaded = load_text("server: {listen: localhost}\n");
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_THAT(loaded.errors[0].message, HasSubstr("is not host:port"));
  EXPECT_FALSE(check_listen("127.0.0.1:0"));
  EXPECT_TRUE(check_listen("127.0.0.1:70000"));
}

TEST(Config, ExpandsEnvironmentVariables) {
  setenv("SLUICE_TEST_DIR", "/srv/events", 1);
  unsetenv("SLUICE_TEST_UNSET");
  auto loaded = load_text(
      "storage: {data_dir: \"${SLUICE_TEST_DIR}/x\"}\n"
      "server: {listen: \"${SLUICE_TEST_UNSET:-127.0.0.1:9}\"}\n");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.config.storage.data_dir, "/srv/events/x");
  EXPECT_EQ(loaded.config.server.listen, "127.0.0.1:9");

  auto missing = load_text("storage: {data_dir: \"${SLUICE_TEST_UNSET}\"}\n");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_THAT(missing.errors[0].message, HasSubstr("SLUICE_TEST_UNSET is not set"));
}

TEST(Config, RejectsBadStreamNamesAndSyntax) {
  auto bad_name = load_text("streams:\n  \"a b\": {}\n");
  ASSERT_EQ(bad_name.errors.size(), 1u);
  EXPECT_THAT(bad_name.errors[0].message, HasSubstr("invalid name"));
  auto syntax = load_text("server: [unclosed\n");
  ASSERT_EQ(syntax.errors.size(), 1u);
  EXPECT_THAT(syntax.errors[0].message, HasSubstr("YAML syntax"));
  auto not_map = load_text("server: 5\n");
  ASSERT_EQ(not_map.errors.size(), 1u);
  EXPECT_THAT(not_map.errors[0].message, HasSubstr("expected a mapping"));
}

TEST(Config, ReferenceListsEverySetting) {
  auto md = reference_markdown();
  for (const char* key :
       {"`listen`", "`io_threads`", "`max_body_bytes`", "`data_dir`", "`group_commit_max_bytes`",
        "`id_field`", "`time_field`", "`batch_max_events`", "### `streams.<name>`"}) {
    EXPECT_THAT(md, HasSubstr(key));
  }
}

}  // namespace
}  // namespace sluice::config
