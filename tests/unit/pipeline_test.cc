// Pipeline configuration and the built-in steps, without a log: steps are built from loaded
// configuration exactly as the pipelines build them.

#include "pipeline/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "components/registry.h"
#include "config/config.h"
#include "pipeline/pipeline_event.h"
#include "pipeline/transform.h"

namespace sluice::pipeline {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSinks = R"(
sinks:
  a: {stdout: {}}
  b: {file: {rotate_bytes: 64KiB}}
)";

config::LoadResult load_pipeline(const std::string& steps, const std::string& extra = "") {
  return config::load_text(std::string(kSinks) + "pipelines:\n  p:\n    from: [events]\n" +
                           "    to: [a, b]\n    steps:\n" + steps + extra);
}

std::string errors_of(const config::LoadResult& loaded) {
  return config::format_errors(loaded.errors, "sluice.yaml");
}

// The steps of pipeline p, built.
std::vector<std::unique_ptr<Transform>> build_steps(const Config& config) {
  const auto& pipeline = config.pipelines.at("p");
  TransformContext context{.pipeline = "p", .sinks = pipeline.to};
  std::vector<std::unique_ptr<Transform>> steps;
  for (const auto& step : pipeline.steps) {
    auto built = components::find_transform_kind(step.kind)->build(context, step.settings.get());
    EXPECT_TRUE(built) << built.error().message;
    steps.push_back(std::move(built.value()));
  }
  return steps;
}

// Runs `payload` through the steps; nullopt when dropped, else the payload and sink mask.
struct Outcome {
  std::string payload;
  std::uint64_t sinks;
};
std::optional<Outcome> run(std::vector<std::unique_ptr<Transform>>& steps,
                           const std::string& payload, std::int64_t received_at = 1000,
                           const std::string& id = "id-1") {
  PipelineEvent event(
      "events", 0, 0,
      EventView{.id = id, .ts_ms = received_at, .received_at_ms = received_at, .payload = payload});
  for (auto& step : steps) {
    if (!step->apply(event)) return std::nullopt;
  }
  return Outcome{std::string(event.payload()), event.sinks};
}

TEST(SplitInHalf, FirstHalfPositionsStopAtTheSecondHalf) {
  // Offsets 10..14 of events/0 (13 dropped by a step) and 7 of events/1; read up to 15 and 8.
  SinkBatch batch{
      .consumer = "p", .records = {}, .next = {{{"events", 0}, 15}, {{"events", 1}, 8}}};
  for (log::Offset offset : {10, 11, 12, 14})
    batch.records.push_back({"events", 0, offset, {}});
  batch.records.push_back({"events", 1, 7, {}});

  auto [first, second] = split_in_half(batch);
  ASSERT_EQ(first.records.size(), 2u);
  ASSERT_EQ(second.records.size(), 3u);
  EXPECT_EQ(first.consumer, "p");
  EXPECT_EQ(first.next.at({"events", 0}), 12u);  // the second half starts at 12
  EXPECT_EQ(first.next.at({"events", 1}), 7u);   // and holds 7 of partition 1
  EXPECT_EQ(second.next, batch.next);            // the whole batch's positions
}

TEST(PipelineConfig, LoadsSinksPipelinesAndShorthand) {
  auto loaded = load_pipeline("      - filter: 'value > 90'\n      - dedup: {window: 1m}\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  const auto& c = loaded.config;
  EXPECT_EQ(c.sinks.at("a").kind, "stdout");
  EXPECT_EQ(c.sinks.at("b").kind, "file");
  const auto& p = c.pipelines.at("p");
  EXPECT_EQ(p.from, std::vector<std::string>{"events"});
  EXPECT_EQ(p.start, "earliest");
  EXPECT_EQ(p.dead_letter, "dead_letters");
  EXPECT_EQ(p.batch.max_events, 1000);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].kind, "filter");
  EXPECT_EQ(p.steps[1].kind, "dedup");
}

TEST(PipelineConfig, ReportsMistakesWithTheirPlace) {
  auto bad_expression = load_pipeline("      - filter: 'value >'\n");
  EXPECT_THAT(errors_of(bad_expression), HasSubstr("sluice.yaml:10:17: pipelines.p.steps[0]"));
  EXPECT_THAT(errors_of(bad_expression), HasSubstr("column"));

  auto two_kinds = load_pipeline("      - {filter: 'a', dedup: {}}\n");
  EXPECT_THAT(errors_of(two_kinds), HasSubstr("pipelines.p.steps[0]: give exactly one step kind"));

  auto unknown_kind = load_pipeline("      - sort: {by: a}\n");
  EXPECT_THAT(errors_of(unknown_kind), HasSubstr("unknown key \"sort\"; valid keys: filter"));

  auto route_to_stranger = load_pipeline("      - route: {when: 'a', to: [c]}\n");
  EXPECT_THAT(errors_of(route_to_stranger),
              HasSubstr("\"c\" is not one of the pipeline's sinks (its `to`: a, b)"));

  auto bad_cast = load_pipeline("      - remap: {cast: {v: float}}\n");
  EXPECT_THAT(errors_of(bad_cast), HasSubstr("\"float\" is not a type"));

  auto missing = config::load_text(std::string(kSinks) +
                                   "pipelines:\n  p: {from: [nope], to: [zz], start: soon}\n");
  const auto text = errors_of(missing);
  EXPECT_THAT(text, HasSubstr("pipelines.p.from: no stream named \"nope\""));
  EXPECT_THAT(text, HasSubstr("pipelines.p.to: no sink named \"zz\" under sinks"));
  EXPECT_THAT(text, HasSubstr("\"soon\" is not a start"));

  auto no_kind = config::load_text("sinks:\n  s: {}\n");
  EXPECT_THAT(
      errors_of(no_kind),
      HasSubstr(
          "sinks.s: give exactly one sink kind: sqlite, postgres, file, stdout, webhook, kafka"));
}

TEST(Steps, FilterKeepsMatchingEventsOnly) {
  auto loaded = load_pipeline("      - filter: 'type == \"TEMP\" && value > 90'\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  EXPECT_TRUE(run(steps, R"({"type":"TEMP","value":91})"));
  EXPECT_FALSE(run(steps, R"({"type":"TEMP","value":90})"));
  EXPECT_FALSE(run(steps, R"({"type":"HUM","value":95})"));
  EXPECT_FALSE(run(steps, R"({"type":"TEMP","value":"95"})"));  // text is not a number
}

TEST(Steps, UntouchedPayloadLeavesByteForByte) {
  auto loaded = load_pipeline("      - filter: 'true'\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  const std::string payload = R"({ "b":1,  "a":"x" , "big": 123456789012345678901234567890 })";
  EXPECT_EQ(run(steps, payload)->payload, payload);
}

TEST(Steps, RemapRenamesCastsSetsAndDropsInThatOrder) {
  auto loaded = load_pipeline(
      "      - remap:\n"
      "          rename: {usr: user.id}\n"
      "          cast: {value: number, n: integer, ok: boolean, code: string, bad: number}\n"
      "          set: {alert: 'value > 90', source: '\"web\"', total: 'value * 2'}\n"
      "          drop: [debug, user.tmp]\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  auto out =
      run(steps, R"({"usr":"u1","value":"91.5","n":"7.9","ok":"true","code":42,"bad":"ALERT:9",)"
                 R"("debug":1,"user":{"tmp":1}})");
  ASSERT_TRUE(out);
  auto json = boost::json::parse(out->payload).as_object();
  EXPECT_EQ(json["user"].as_object()["id"], "u1");
  EXPECT_FALSE(json["user"].as_object().contains("tmp"));
  EXPECT_FALSE(json.contains("usr"));
  EXPECT_FALSE(json.contains("debug"));
  EXPECT_EQ(json["value"].as_double(), 91.5);
  EXPECT_EQ(json["n"].as_int64(), 7);
  EXPECT_EQ(json["ok"].as_bool(), true);
  EXPECT_EQ(json["code"], "42");
  EXPECT_TRUE(json["bad"].is_null());
  EXPECT_EQ(json["alert"].as_bool(), true);
  EXPECT_EQ(json["source"], "web");
  EXPECT_EQ(json["total"].to_number<double>(), 183.0);  // written as 183
}

TEST(Steps, RouteChoosesSinks) {
  auto loaded =
      load_pipeline("      - route: {when: 'severity == \"critical\"', to: [a], else: [b]}\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  EXPECT_EQ(run(steps, R"({"severity":"critical"})")->sinks & 3u, 1u);  // a only
  EXPECT_EQ(run(steps, R"({"severity":"low"})")->sinks & 3u, 2u);       // b only
}

TEST(Steps, DedupDropsRepeatsWithinTheWindowOnly) {
  auto loaded = load_pipeline("      - dedup: {window: 10s, max_keys: 2}\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  EXPECT_TRUE(run(steps, "{}", 1'000, "x"));
  EXPECT_FALSE(run(steps, "{}", 5'000, "x"));  // within 10 s
  EXPECT_TRUE(run(steps, "{}", 12'000, "x"));  // 11 s after the first
  EXPECT_TRUE(run(steps, "{}", 12'001, "y"));
  EXPECT_TRUE(run(steps, "{}", 12'002, "z"));  // over max_keys: x is forgotten first
  EXPECT_TRUE(run(steps, "{}", 12'003, "x"));
  EXPECT_FALSE(run(steps, "{}", 12'004, "z"));  // still remembered
}

TEST(Steps, DedupByFieldIgnoresEventsWithoutIt) {
  auto loaded = load_pipeline("      - dedup: {field: order.number}\n");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  auto steps = build_steps(loaded.config);
  EXPECT_TRUE(run(steps, R"({"order":{"number":7}})", 1, "a"));
  EXPECT_FALSE(run(steps, R"({"order":{"number":7}})", 2, "b"));
  EXPECT_TRUE(run(steps, R"({"other":1})", 3, "c"));
  EXPECT_TRUE(run(steps, R"({"other":1})", 4, "d"));
}

}  // namespace
}  // namespace sluice::pipeline
