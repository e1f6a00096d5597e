#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
  ASSERT_EQ(c.routes.size(), 5u);
  EXPECT_EQ(c.routes.at("collect").path, "/collect");
  for (const char* sdk : {"segment", "posthog", "snowplow"}) {
    EXPECT_EQ(c.routes.at(sdk).protocol, sdk);
    EXPECT_EQ(c.routes.at(sdk).path, "") << "the SDK's own paths";
    EXPECT_EQ(c.routes.at(sdk).stream, "web");
  }
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
  EXPECT_EQ(loaded.config.routes.size(), 5u) << "declared streams add to the defaults";
}

TEST(Config, CrossReferencesAreChecked) {
  auto loaded = load_text(R"(
streams:
  a: {dead_letter: "no where", schema: {type: 7}}
  b: {dead_letter: b, privacy: {hash_fields: [email]}}
routes:
  r1: {path: /v1/x, stream: a}
  r2: {path: /in, stream: missing}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_THAT(text, HasSubstr("streams.a.schema: the schema is invalid"));
  EXPECT_THAT(text, HasSubstr("x:3:20: streams.a.dead_letter: \"no where\" cannot be a stream"));
  EXPECT_THAT(text, HasSubstr("streams.b.dead_letter: a stream cannot be its own dead-letter"));
  EXPECT_THAT(text, HasSubstr("streams.b.privacy.hash_key: required with hash_fields"));
  EXPECT_THAT(text, HasSubstr("routes.r1.path: \"/v1/x\" is not a free path"));
  EXPECT_THAT(text, HasSubstr("routes.r2.stream: no stream named \"missing\""));
}

TEST(Config, BotStreamsAndIdCookiesAreChecked) {
  auto loaded = load_text(R"(
streams:
  web: {bots: {field: bot, stream: web_bot}}
  web_bots: {}
  own: {bots: {field: bot, stream: own}}
  quiet: {bots: {stream: web_bots}, id_cookie: {name: "a b"}}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_THAT(text, HasSubstr("streams.web.bots.stream: no stream named \"web_bot\"; did you "
                              "mean \"web_bots\"?"));
  EXPECT_THAT(text, HasSubstr("streams.own.bots.stream: name another stream"));
  EXPECT_THAT(text, HasSubstr("streams.quiet.bots.field: set a field"));
  EXPECT_THAT(text, HasSubstr("streams.quiet.id_cookie.name: use up to 64 letters"));
  auto fine = load_text(R"(
streams:
  web: {id_cookie: {name: sluice_id, max_age: 30d}, bots: {field: bot, stream: web_bots}}
  web_bots: {}
)");
  ASSERT_TRUE(fine.ok()) << format_errors(fine.errors, "x");
  EXPECT_EQ(fine.config.streams.at("web").id_cookie.max_age, std::chrono::days(30));
  EXPECT_EQ(fine.config.streams.at("web").id_cookie.field, "browser_id");
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
  ASSERT_EQ(loaded.config.streams.size(), 5u);  // declared streams add to the defaults
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
  EXPECT_THAT(text, HasSubstr("loggg: unknown key \"loggg\"; did you mean \"log\"? valid keys: "
                              "server, storage, log, streams, routes, store"));
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
  EXPECT_FALSE(http::check_listen("127.0.0.1:0"));
  EXPECT_TRUE(http::check_listen("127.0.0.1:70000"));
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

// A file that declares one stream keeps the default streams and routes; `false` removes one
// default, `{}` all of them.
TEST(Config, SdkRoutesAreChecked) {
  auto good = load_text(R"(
streams:
  app: {write_keys: [k1]}
routes:
  ingest: {protocol: posthog, path: /ingest, stream: web}
  seg_app: {protocol: segment, path: /seg, stream: app}
)");
  ASSERT_TRUE(good.ok()) << format_errors(good.errors, "x");
  EXPECT_EQ(good.config.routes.at("ingest").path, "/ingest");

  auto keyed = load_text("streams:\n  web: {write_keys: [k1]}\n");
  ASSERT_TRUE(keyed.ok()) << format_errors(keyed.errors, "x");
  EXPECT_TRUE(keyed.config.routes.contains("segment")) << "Segment sends its write key";
  EXPECT_FALSE(keyed.config.routes.contains("posthog")) << "no key: the default is left out";
  EXPECT_FALSE(keyed.config.routes.contains("snowplow"));

  auto bad = load_text(R"(
streams:
  app: {write_keys: [k1]}
routes:
  a: {protocol: posthog, path: /ingest/, stream: web}
  b: {protocol: snowplow, path: '', stream: app}
  c: {protocol: segment, path: '', stream: web}
  d: {protocol: amplitude, stream: web}
  e: {protocol: posthog, path: 'ingest', stream: nowhere}
)");
  ASSERT_FALSE(bad.ok());
  const std::string text = format_errors(bad.errors, "x");
  EXPECT_NE(text.find("routes.a.path"), std::string::npos) << text;
  EXPECT_NE(text.find("does not end with /"), std::string::npos) << text;
  EXPECT_NE(text.find("routes.b.stream"), std::string::npos) << text;
  EXPECT_NE(text.find("snowplow SDKs send no write key"), std::string::npos) << text;
  EXPECT_NE(text.find("routes.c.path: routes.segment serves the segment endpoints under \"\" "
                      "already"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("routes.d.path"), std::string::npos) << "one error for a wrong protocol";
  EXPECT_NE(text.find("must be events, events-api, segment, posthog or snowplow"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("routes.e.path"), std::string::npos) << text;
  EXPECT_NE(text.find("routes.e.stream"), std::string::npos) << text;
}

TEST(Config, DeclaredEntriesAddToTheDefaults) {
  auto one = load_text("streams:\n  orders: {key_field: customer}\n");
  ASSERT_TRUE(one.ok()) << format_errors(one.errors, "x");
  for (const char* name : {"orders", "events", "web", "contact", "dead_letters"}) {
    EXPECT_TRUE(one.config.streams.contains(name)) << name;
  }
  EXPECT_EQ(one.config.routes.at("publish").stream, "events");
  EXPECT_EQ(one.config.routes.at("collect").stream, "web");

  auto replaced =
      load_text("streams:\n  web: {id_field: eid}\nroutes:\n  in: {path: /in, stream: web}\n");
  ASSERT_TRUE(replaced.ok()) << format_errors(replaced.errors, "x");
  EXPECT_EQ(replaced.config.streams.at("web").id_field, "eid");
  EXPECT_TRUE(replaced.config.streams.at("web").cors_origins.empty()) << "replaced whole";
  EXPECT_EQ(replaced.config.routes.size(), 6u);

  auto removed = load_text("streams:\n  web: false\n  contact: false\nroutes:\n  publish: false\n");
  ASSERT_TRUE(removed.ok()) << format_errors(removed.errors, "x");
  EXPECT_FALSE(removed.config.streams.contains("web"));
  EXPECT_FALSE(removed.config.streams.contains("contact"));
  EXPECT_TRUE(removed.config.streams.contains("events"));
  EXPECT_TRUE(removed.config.routes.empty()) << "collect went with its stream, publish by name";

  auto none = load_text("streams:\n  iot: {}\nroutes: {}\n");
  ASSERT_TRUE(none.ok()) << format_errors(none.errors, "x");
  EXPECT_TRUE(none.config.routes.empty());
  EXPECT_EQ(none.config.streams.size(), 5u);

  auto typo = load_text("streams:\n  wbe: false\n");
  ASSERT_EQ(typo.errors.size(), 1u) << format_errors(typo.errors, "x");
  EXPECT_EQ(format_errors(typo.errors, "x"),
            "x:2:8: streams.wbe: false removes a default entry, and there is none named \"wbe\"; "
            "the defaults are events, web, contact, dead_letters\n");
}

// The streams Sluice writes to exist without being declared, closed to posts.
TEST(Config, StreamsThatSettingsWriteToAreImplied) {
  auto loaded = load_text(R"(
streams:
  iot: {dead_letter: rejected}
windows:
  temp: {from: [iot], tumbling: 10s, aggregates: {p95: p95(value)}, late: late_iot}
alerts:
  hot: {window: temp, when: 'p95 > 90'}
)");
  ASSERT_TRUE(loaded.ok()) << format_errors(loaded.errors, "x");
  const auto& c = loaded.config;
  EXPECT_EQ(c.implied_streams, (std::set<std::string>{"alerts", "late_iot", "rejected"}));
  EXPECT_EQ(c.streams.at("alerts").type_field, "rule");
  EXPECT_EQ(c.streams.at("alerts").time_field, "");
  EXPECT_FALSE(c.accepts_posts(c.streams.at("alerts")));
  EXPECT_FALSE(c.accepts_posts(c.streams.at("rejected")));
  EXPECT_FALSE(c.implied_streams.contains("dead_letters")) << "a default, not implied";
}

// Names that refer to nothing are reported where they are written, with the name probably
// meant; one typo gives one error.
TEST(Config, ReferenceErrorsHaveTheirLineAndASuggestion) {
  auto loaded = load_text(R"(streams:
  orders: {}
sinks:
  archive: {file: {dir: a}}
  audit: {fil: {dir: b}}
pipelines:
  hot:
    from: [orders]
    to: [audit, archiv]
windows:
  w: {from: [order], tumbling: 1m, aggregates: {n: count}}
alerts:
  r: {window: ww, when: 'n > 1'}
routes:
  in: {path: /in, stream: ordrs}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.errors.size(), 5u) << text;
  EXPECT_THAT(text, HasSubstr("x:5:11: sinks.audit.fil: unknown key \"fil\"; did you mean "
                              "\"file\"? valid keys:"));
  EXPECT_THAT(text, HasSubstr("x:9:17: pipelines.hot.to: no sink named \"archiv\" under sinks; "
                              "did you mean \"archive\"?\n"));
  EXPECT_THAT(text, HasSubstr("x:11:14: windows.w.from: no stream named \"order\"; did you mean "
                              "\"orders\"?\n"));
  EXPECT_THAT(text, HasSubstr("x:13:15: alerts.r.window: no window named \"ww\" under windows; "
                              "did you mean \"w\"?\n"));
  EXPECT_THAT(text, HasSubstr("x:15:27: routes.in.stream: no stream named \"ordrs\"; did you "
                              "mean \"orders\"?\n"));
  EXPECT_THAT(text, Not(HasSubstr("give exactly one sink kind"))) << "no second error";
}

TEST(Config, DurationsCarryAUnit) {
  auto loaded = load_text(R"(streams: {iot: {}}
windows:
  w: {from: [iot], tumbling: 60, aggregates: {n: count}, allowed_lateness: 0}
alerts:
  r: {from: [iot], when: 'value > 90', cooldown: 600}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.errors.size(), 2u) << text;
  EXPECT_THAT(text, HasSubstr("x:3:30: windows.w.tumbling.size: \"60\" has no unit: write 60s, "
                              "60ms, 60m"));
  EXPECT_THAT(text, HasSubstr("x:5:50: alerts.r.cooldown: \"600\" has no unit"));
  EXPECT_EQ(parse_duration_ms("0"), 0);
  EXPECT_EQ(parse_duration_ms("90"), std::nullopt);
  EXPECT_EQ(parse_duration_ms("90s"), 90'000);
}

// An aggregate takes a field, and a window rule's condition names what its results hold.
TEST(Config, WindowAggregatesAndRuleNamesAreChecked) {
  auto loaded = load_text(R"(streams: {iot: {}}
windows:
  w: {from: [iot], key: [device.id], tumbling: 10s, aggregates: {p95_temp: p95(number(value))}}
  v: {from: [iot], key: [device.id], tumbling: 10s, aggregates: {p95_temp: p95(value)}}
alerts:
  r: {window: v, when: 'p95 > 90 && device == "a" && events > 2'}
  s: {window: w, when: 'nothing > 1'}
)");
  const std::string text = format_errors(loaded.errors, "x");
  EXPECT_EQ(loaded.errors.size(), 2u) << text;
  EXPECT_THAT(text, HasSubstr("windows.w.aggregates: p95_temp: p95(…) takes a field, such as "
                              "value or reading.temp; \"number(value)\" is not one"));
  EXPECT_THAT(text, HasSubstr("x:6:24: alerts.r.when: \"p95\" is not in the results of window "
                              "\"v\" (they have device, p95_temp, events, start, end); did you "
                              "mean \"p95_temp\"?"));
  EXPECT_THAT(text, Not(HasSubstr("alerts.s"))) << "window w has its own error already";
}

}  // namespace
}  // namespace sluice::config
