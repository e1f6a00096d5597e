// The window operator against a brute-force reference computed here from the same randomly
// generated, out-of-order event stream with late events: exact aggregates equal, percentiles
// within the sketch's stated 1 %. And a checkpoint taken mid-stream, restored and fed the rest in
// another interleaving of the partitions, gives the same results as the run without it.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "config/config.h"
#include "pipeline/message_template.h"
#include "windows/field_projection.h"
#include "windows/partial_merge.h"
#include "windows/window_job.h"
#include "windows/window_operator.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

struct Arrival {
  std::string partition;
  std::int64_t ts;
  json::value event;
};

constexpr std::int64_t kSize = 60'000;
constexpr std::int64_t kLateness = 5'000;

// Three partitions, each in its own order: mostly ascending with jitter under the lateness,
// about 3 % far behind (late), per-partition streams interleaved at random.
std::vector<std::vector<Arrival>> generate(std::uint32_t seed, int per_partition = 2000) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Arrival>> partitions(3);
  const char* severities[] = {"low", "medium", "high", "critical"};
  for (int p = 0; p < 3; ++p) {
    std::int64_t clock = 1'700'000'000'000 + p * 777;
    for (int i = 0; i < per_partition; ++i) {
      clock += std::uniform_int_distribution<std::int64_t>(0, 400)(rng);
      std::int64_t ts = clock - std::uniform_int_distribution<std::int64_t>(0, kLateness - 1)(rng);
      if (std::uniform_int_distribution<int>(0, 99)(rng) < 3) {
        ts -= std::uniform_int_distribution<std::int64_t>(kSize, 4 * kSize)(rng);
      }
      json::object e;
      e["city"] = "c" + std::to_string(std::uniform_int_distribution<int>(0, 9)(rng));
      e["severity"] = severities[std::uniform_int_distribution<int>(0, 3)(rng)];
      e["user"] = "u" + std::to_string(std::uniform_int_distribution<int>(0, 60)(rng));
      if (std::uniform_int_distribution<int>(0, 1)(rng)) {
        e["value"] = std::uniform_int_distribution<int>(-50, 500)(rng);
      } else {
        e["value"] = std::uniform_real_distribution<double>(0.001, 1000)(rng);
      }
      partitions[p].push_back({"events/" + std::to_string(p), ts, std::move(e)});
    }
  }
  return partitions;
}

// A random interleaving of the partitions' suffixes starting at `from`.
std::vector<const Arrival*> interleave(const std::vector<std::vector<Arrival>>& partitions,
                                       std::vector<std::size_t> from, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<const Arrival*> out;
  for (;;) {
    std::vector<std::size_t> open;
    for (std::size_t p = 0; p < partitions.size(); ++p) {
      if (from[p] < partitions[p].size()) open.push_back(p);
    }
    if (open.empty()) return out;
    const std::size_t p = open[std::uniform_int_distribution<std::size_t>(0, open.size() - 1)(rng)];
    // A run of up to 50 from one partition, as a batch read would give.
    const std::size_t run = std::uniform_int_distribution<std::size_t>(1, 50)(rng);
    for (std::size_t i = 0; i < run && from[p] < partitions[p].size(); ++i)
      out.push_back(&partitions[p][from[p]++]);
  }
}

std::vector<AggregateSpec> specs() {
  std::vector<AggregateSpec> out;
  for (auto [name, text] :
       std::vector<std::pair<const char*, const char*>>{{"n", "count"},
                                                        {"total", "sum(value)"},
                                                        {"mean", "avg(value)"},
                                                        {"low", "min(value)"},
                                                        {"high", "max(value)"},
                                                        {"users", "count_distinct(user)"},
                                                        {"severities", "collect_set(severity)"},
                                                        {"median", "p50(value)"},
                                                        {"p99", "p99(value)"}}) {
    out.push_back(parse_aggregate(name, text).value());
  }
  return out;
}

WindowSpec tumbling() {
  WindowSpec spec;
  spec.kind = WindowSpec::Kind::kTumbling;
  spec.size_ms = kSize;
  spec.allowed_lateness_ms = kLateness;
  spec.key_fields = {"city"};
  spec.aggregates = specs();
  return spec;
}

WindowSpec hopping() {
  WindowSpec spec = tumbling();
  spec.kind = WindowSpec::Kind::kHopping;
  spec.every_ms = 20'000;
  return spec;
}

using Results = std::map<std::pair<std::string, std::int64_t>, WindowResult>;

// Feeds the arrivals, closing windows after every 37th; every result, closed or still open.
Results run(WindowOperator& op, const std::vector<const Arrival*>& arrivals,
            std::vector<std::string>* late = nullptr, Results results = {}) {
  auto keep = [&](std::vector<WindowResult> closed) {
    for (auto& r : closed) {
      auto id = std::make_pair(r.key, r.start_ms);
      EXPECT_FALSE(results.contains(id)) << "window closed twice: " << r.key << " " << r.start_ms;
      results[id] = std::move(r);
    }
  };
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    auto reason = op.add(arrivals[i]->partition, arrivals[i]->ts, arrivals[i]->event);
    if (reason && late) late->push_back(*reason);
    if (i % 37 == 0) keep(op.close_ready());
  }
  keep(op.close_ready());
  keep(op.open_results());
  return results;
}

// The reference: the same lateness rule stated directly (an event is refused when all its
// windows end at or before the larger of its partition's watermark and the combined watermark
// seen so far), then each window computed from scratch over its events.
struct Reference {
  std::map<std::pair<std::string, std::int64_t>, std::vector<const json::value*>> windows;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> ends;
  std::size_t late = 0;
};

Reference reference(const WindowSpec& spec, const std::vector<const Arrival*>& arrivals) {
  Reference ref;
  std::map<std::string, std::int64_t> max_ts;
  std::int64_t closed = INT64_MIN;
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const Arrival& a = *arrivals[i];
    max_ts[a.partition] =
        std::max(max_ts.contains(a.partition) ? max_ts[a.partition] : INT64_MIN, a.ts);
    const std::int64_t floor = std::max(max_ts[a.partition] - spec.allowed_lateness_ms, closed);
    bool taken = false;
    // Every window [start, start + size) with start a multiple of the step that holds ts.
    const std::int64_t step =
        spec.kind == WindowSpec::Kind::kHopping ? spec.every_ms : spec.size_ms;
    for (std::int64_t start = (a.ts / step - spec.size_ms / step - 2) * step; start <= a.ts;
         start += step) {
      if (a.ts < start || a.ts >= start + spec.size_ms || start + spec.size_ms <= floor) continue;
      const std::string key = "[" + json::serialize(a.event.at("city")) + "]";
      ref.windows[{key, start}].push_back(&a.event);
      ref.ends[{key, start}] = start + spec.size_ms;
      taken = true;
    }
    ref.late += !taken;
    if (i % 37 == 0) {
      std::int64_t lowest = INT64_MAX;
      for (const auto& [p, m] : max_ts)
        lowest = std::min(lowest, m - spec.allowed_lateness_ms);
      closed = std::max(closed, lowest);
    }
  }
  return ref;
}

double number(const json::value& v) {
  return v.is_int64() ? static_cast<double>(v.get_int64()) : v.get_double();
}

void expect_matches_reference(const Results& results, const Reference& ref) {
  ASSERT_EQ(results.size(), ref.windows.size());
  for (const auto& [id, events] : ref.windows) {
    auto found = results.find(id);
    ASSERT_NE(found, results.end()) << id.first << " " << id.second;
    const WindowResult& r = found->second;
    EXPECT_EQ(r.end_ms, ref.ends.at(id));
    std::vector<double> values;
    std::set<std::string> users, severities;
    double total = 0;
    for (const auto* e : events) {
      values.push_back(number(e->at("value")));
      total += values.back();
      users.insert(std::string(e->at("user").as_string()));
      severities.insert(std::string(e->at("severity").as_string()));
    }
    std::sort(values.begin(), values.end());
    const auto& v = r.values;
    EXPECT_EQ(r.events, static_cast<std::int64_t>(events.size()));
    EXPECT_EQ(v.at("n").as_int64(), static_cast<std::int64_t>(events.size()));
    EXPECT_NEAR(number(v.at("total")), total, 1e-6 * static_cast<double>(events.size()));
    EXPECT_NEAR(number(v.at("mean")), total / static_cast<double>(values.size()), 1e-6);
    EXPECT_EQ(number(v.at("low")), values.front());
    EXPECT_EQ(number(v.at("high")), values.back());
    EXPECT_EQ(v.at("users").as_int64(), static_cast<std::int64_t>(users.size()));
    json::array set;
    for (const auto& s : severities)
      set.emplace_back(s);
    EXPECT_EQ(v.at("severities"), json::value(set));
    for (auto [name, q] : {std::pair{"median", 0.5}, std::pair{"p99", 0.99}}) {
      const double exact =
          values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
      EXPECT_NEAR(number(v.at(name)), exact, 0.01 * std::fabs(exact) + 1e-9)
          << name << " of " << values.size() << " values";
    }
  }
}

TEST(WindowOperator, TumblingMatchesBruteForce) {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    const auto partitions = generate(seed);
    const auto arrivals = interleave(partitions, {0, 0, 0}, seed * 7);
    WindowOperator op(tumbling());
    std::vector<std::string> late;
    const Results results = run(op, arrivals, &late);
    const Reference ref = reference(op.spec(), arrivals);
    EXPECT_EQ(late.size(), ref.late);
    EXPECT_GT(late.size(), 50u) << "the stream should have late events";
    EXPECT_NE(late.front().find("closed: watermark"), std::string::npos) << late.front();
    expect_matches_reference(results, ref);
  }
}

TEST(WindowOperator, HoppingMatchesBruteForce) {
  for (std::uint32_t seed : {4u, 5u}) {
    const auto partitions = generate(seed);
    const auto arrivals = interleave(partitions, {0, 0, 0}, seed * 7);
    WindowOperator op(hopping());
    std::vector<std::string> late;
    const Results results = run(op, arrivals, &late);
    const Reference ref = reference(op.spec(), arrivals);
    EXPECT_EQ(late.size(), ref.late);
    expect_matches_reference(results, ref);
  }
}

TEST(WindowOperator, SessionsMatchBruteForce) {
  // One partition in time order with a lateness that admits everything: sessions are the runs
  // of each key's events less than `gap` apart.
  std::mt19937 rng(9);
  WindowSpec spec;
  spec.kind = WindowSpec::Kind::kSession;
  spec.gap_ms = 30'000;
  spec.allowed_lateness_ms = 600'000;
  spec.key_fields = {"user"};
  spec.aggregates = {parse_aggregate("n", "count").value()};
  WindowOperator op(spec);
  std::map<std::string, std::vector<std::int64_t>> times;
  std::vector<Arrival> arrivals;
  std::int64_t clock = 0;
  for (int i = 0; i < 3000; ++i) {
    clock += std::uniform_int_distribution<std::int64_t>(0, 2000)(rng);
    const std::int64_t ts = clock - std::uniform_int_distribution<std::int64_t>(0, 100'000)(rng);
    const std::string user = "u" + std::to_string(std::uniform_int_distribution<int>(0, 30)(rng));
    arrivals.push_back({"events/0", ts, json::object{{"user", user}}});
    times["[\"" + user + "\"]"].push_back(ts);
  }
  std::vector<const Arrival*> order;
  for (const auto& a : arrivals)
    order.push_back(&a);
  std::vector<std::string> late;
  const Results results = run(op, order, &late);
  EXPECT_TRUE(late.empty());
  std::size_t expected = 0;
  for (auto& [key, ts] : times) {
    std::sort(ts.begin(), ts.end());
    std::size_t first = 0;
    for (std::size_t i = 1; i <= ts.size(); ++i) {
      if (i < ts.size() && ts[i] < ts[i - 1] + spec.gap_ms) continue;
      auto found = results.find({key, ts[first]});
      ASSERT_NE(found, results.end()) << key << " " << ts[first];
      EXPECT_EQ(found->second.end_ms, ts[i - 1] + spec.gap_ms);
      EXPECT_EQ(found->second.events, static_cast<std::int64_t>(i - first));
      ++expected;
      first = i;
    }
  }
  EXPECT_EQ(results.size(), expected);
}

TEST(WindowOperator, CheckpointAndReplayInAnotherOrderGiveTheSameResults) {
  const auto partitions = generate(11);
  WindowOperator whole(tumbling());
  const Results uninterrupted = run(whole, interleave(partitions, {0, 0, 0}, 1));

  // Stop part-way (a crash after a checkpoint at these positions), restore, replay the rest of
  // every partition in a different interleaving.
  const std::vector<std::size_t> at{700, 1300, 250};
  WindowOperator first(tumbling());
  std::vector<const Arrival*> before;
  for (const auto* a : interleave(partitions, {0, 0, 0}, 2)) {
    const std::size_t p = static_cast<std::size_t>(a->partition.back() - '0');
    if (static_cast<std::size_t>(a - partitions[p].data()) < at[p]) before.push_back(a);
  }
  Results closed;
  for (std::size_t i = 0; i < before.size(); ++i) {
    (void)first.add(before[i]->partition, before[i]->ts, before[i]->event);
    if (i % 37 == 0) {
      for (auto& r : first.close_ready())
        closed[{r.key, r.start_ms}] = r;
    }
  }
  const json::value saved = json::parse(json::serialize(first.save()));
  auto restored = WindowOperator::load(tumbling(), saved);
  ASSERT_TRUE(restored) << restored.error().message;
  const Results resumed = run(restored.value(), interleave(partitions, at, 3), nullptr, closed);

  ASSERT_EQ(resumed.size(), uninterrupted.size());
  for (const auto& [id, r] : uninterrupted) {
    auto found = resumed.find(id);
    ASSERT_NE(found, resumed.end());
    EXPECT_EQ(found->second.events, r.events);
    EXPECT_EQ(json::serialize(found->second.values), json::serialize(r.values));
  }
}

// A checkpoint saved while one event dated 9999 held the watermark: once restored and capped,
// windows of events at today's times close again.
TEST(WindowOperator, ACappedEventTimeLetsWindowsCloseAgain) {
  WindowOperator poisoned(tumbling());
  const std::int64_t now = 1'760'355'000'000;
  (void)poisoned.add("s/0", 253'370'764'800'000, json::parse(R"({"city":"X"})"));  // 9999-12-31
  auto restored = WindowOperator::load(tumbling(), json::parse(json::serialize(poisoned.save())));
  ASSERT_TRUE(restored);
  WindowOperator& op = restored.value();
  EXPECT_TRUE(op.add("s/0", now, json::parse(R"({"city":"Y"})")).has_value());  // late
  EXPECT_TRUE(op.cap_event_time(now + 3'600'000));
  EXPECT_FALSE(op.cap_event_time(now + 3'600'000));
  EXPECT_EQ(op.watermark(), now + 3'600'000 - kLateness);
  EXPECT_FALSE(op.add("s/0", now + 3'600'000 - 1, json::parse(R"({"city":"Y"})")).has_value());
}

TEST(Alerts, MessageTemplateTakesTheResultsValues) {
  const json::value context = json::parse(R"({"city":"NYC","events":7,"p99":98.5,"tags":["a"]})");
  EXPECT_EQ(pipeline::render_message("{events} critical in {city} (p99 {p99}, {tags}) {missing} {",
                                     context),
            "7 critical in NYC (p99 98.5, [\"a\"]) {missing} {");
}

// Numbers as a person writes them, the same as in the results' JSON; a format after a colon.
TEST(Alerts, MessageTemplateFormatsNumbers) {
  const json::value context =
      json::parse(R"({"device":"s-1","p95":98.50457626879135,"n":7,"tiny":1e-9})");
  EXPECT_EQ(pipeline::render_message("{device}: {p95} / {p95:.1f} / {n:>4} / {tiny}", context),
            "s-1: 98.50457626879135 / 98.5 /    7 / 1e-09");
  EXPECT_EQ(pipeline::render_message("{p95:.1q} {device:.2f}", context), "{p95:.1q} {device:.2f}")
      << "a format that does not apply is kept as written";
}

// A stream gone quiet: the watermark is moved on from outside and the windows it passes close.
TEST(WindowOperator, CloseThroughClosesWhatEventTimeHasNot) {
  WindowSpec spec;
  spec.size_ms = 10'000;
  spec.key_fields = {"device"};
  spec.aggregates = {windows::parse_aggregate("n", "count").value()};
  WindowOperator op(spec);
  for (int i = 1; i <= 3; ++i)
    EXPECT_FALSE(op.add("s/0", 1'000 * i, json::parse(R"({"device":"d"})")).has_value());
  EXPECT_TRUE(op.close_ready().empty()) << "no later event: the window stays open";
  EXPECT_EQ(op.latest_event_time(), 3'000);
  op.close_through(9'999);
  EXPECT_TRUE(op.close_ready().empty());
  op.close_through(10'000);
  const auto closed = op.close_ready();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].events, 3);
  EXPECT_TRUE(op.add("s/0", 4'000, json::parse(R"({"device":"d"})")).has_value())
      << "an event for the closed window is late";
  EXPECT_FALSE(op.add("s/0", 10'500, json::parse(R"({"device":"d"})")).has_value());
}

TEST(Alerts, ConfigurationNamesWhatIsWrong) {
  auto loaded = config::load_text(R"(
streams: {events: {}, dead_letters: {}}
windows:
  w: {from: [events], tumbling: 1m, aggregates: {n: count}}
alerts:
  a: {window: nowhere, when: 'n >'}
  b: {window: w, when: 'n > 1'}
)");
  std::string all;
  for (const auto& e : loaded.errors)
    all += e.path + ": " + e.message + "\n";
  EXPECT_NE(all.find("alerts.a.window: no window named \"nowhere\""), std::string::npos) << all;
  EXPECT_NE(all.find("alerts.a.when"), std::string::npos) << all;
  // The alerts stream is added for the rules without being declared.
  EXPECT_EQ(all.find("alerts.b"), std::string::npos) << all;
}

TEST(Alerts, PerEventRulesAreCheckedAndNotifyBecomesAPipeline) {
  auto bad = config::load_text(R"(
streams: {events: {}, alerts: {}}
windows:
  w: {from: [events], tumbling: 1m, aggregates: {n: count}}
alerts:
  both: {window: w, from: [events], when: 'x > 1'}
  neither: {when: 'x > 1'}
  windowed: {window: w, when: 'n > 1', cooldown: 1m}
  lost: {from: [nowhere], when: 'x > 1', notify: [pager]}
  bad.name: {from: [events], when: 'x > 1'}
)");
  std::string all;
  for (const auto& e : bad.errors)
    all += e.path + ": " + e.message + "\n";
  EXPECT_NE(all.find("alerts.both: give either window"), std::string::npos) << all;
  EXPECT_NE(all.find("alerts.neither: give either window"), std::string::npos) << all;
  EXPECT_NE(all.find("alerts.windowed: key and cooldown are for rules over single events"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("alerts.lost.from: no stream named \"nowhere\""), std::string::npos) << all;
  EXPECT_NE(all.find("alerts.lost.notify: no sink named \"pager\""), std::string::npos) << all;
  EXPECT_NE(all.find("alerts.bad.name: rule names have"), std::string::npos) << all;

  auto good = config::load_text(R"(
streams: {events: {}, alerts: {}}
sinks:
  pager: {webhook: {url: "http://127.0.0.1:9/"}}
alerts:
  hot: {from: [events], when: 'value > 90', key: [device], cooldown: 5m, notify: [log, pager]}
)");
  ASSERT_TRUE(good.ok()) << good.errors.front().path << ": " << good.errors.front().message;
  const auto& pipeline = good.config.pipelines.at("notify-hot");
  EXPECT_EQ(pipeline.from, std::vector<std::string>{"alerts"});
  EXPECT_EQ(pipeline.to, (std::vector<std::string>{"log", "pager"}));
  ASSERT_EQ(pipeline.steps.size(), 1u);
  EXPECT_EQ(pipeline.steps[0].kind, "filter");
  EXPECT_EQ(pipeline.dead_letter, "dead_letters") << "a default stream, there unless removed";
  EXPECT_EQ(good.config.sinks.at("log").kind, "log");
  EXPECT_EQ(good.config.alerts.at("hot").cooldown, std::chrono::minutes(5));
}

TEST(Aggregates, ParseErrorsSayWhatIsAccepted) {
  EXPECT_FALSE(parse_aggregate("x", "median(value)"));
  EXPECT_NE(parse_aggregate("x", "median(value)").error().message.find("p50(f)"),
            std::string::npos);
  EXPECT_FALSE(parse_aggregate("x", "sum()"));
  EXPECT_FALSE(parse_aggregate("x", "count(value)"));
  EXPECT_FALSE(parse_aggregate("x", "avg(value, 3)"));
  EXPECT_EQ(parse_aggregate("x", "collect_set(severity, 20)").value().limit, 20u);
  EXPECT_EQ(parse_aggregate("x", " p95( latency ) ").value().field, "latency");
}

TEST(Aggregates, DistinctCountsStayWithinTheirBoundPastTheExactRange) {
  const std::vector<AggregateSpec> s{parse_aggregate("d", "count_distinct(u)").value()};
  for (int n : {1000, 20'000, 200'000}) {
    Accumulator a(s), b(s);
    for (int i = 0; i < n; ++i) {
      (i % 2 ? a : b).add(s, json::object{{"u", "user-" + std::to_string(i)}});
    }
    a.merge(s, b);
    const double got = static_cast<double>(a.result(s).at("d").as_int64());
    if (n <= 1024) {
      EXPECT_EQ(got, n);
    } else {
      EXPECT_NEAR(got, n, 0.05 * n) << "3 standard errors";  // 1.6 % standard error
    }
  }
}

}  // namespace
}  // namespace sluice::windows

namespace sluice::windows {
namespace {

TEST(FieldProjection, ReadsTheUsedFieldsAsBoostJsonWould) {
  FieldProjection projection({"device", "reading.value", "tags", "n", "big", "ok", "none", "t"});
  const std::string payload =
      R"({"device":"d-\u00e9\"1\"", "skipped": {"deep": [1, 2, {"x": "y"}]},)"
      R"( "reading": {"value": 12.5, "unit": "C"}, "tags": ["a", "b"], "n": -42,)"
      R"( "big": 18446744073709551615, "ok": true, "none": null, "t": 1e400 , "n": 7})";
  const boost::json::value* got = projection.project(payload);
  ASSERT_NE(got, nullptr);
  boost::json::value whole = boost::json::parse(payload);
  boost::json::object expected;
  for (const char* name : {"device", "reading", "tags", "n", "big", "ok", "none"})
    expected[name] = whole.at(name);
  boost::json::object actual = got->as_object();
  // 1e400 is out of range: whatever each parser makes of it, the projection keeps the field.
  EXPECT_TRUE(actual.contains("t"));
  actual.erase("t");
  EXPECT_EQ(boost::json::value(actual), boost::json::value(expected));
  EXPECT_EQ(actual.at("n"), 7) << "the last of repeated keys, as Boost.JSON";
  EXPECT_FALSE(actual.contains("skipped"));

  EXPECT_EQ(projection.project("[1,2]"), nullptr);
  EXPECT_EQ(projection.project("{\"device\":"), nullptr);
  // The next event starts afresh.
  got = projection.project(R"({"n": 1})");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(boost::json::serialize(*got), R"({"n":1})");
}

// Windows in a consumer group: one operator per partition, the windows each closes saved as
// partials and merged once every partition has closed them. Fed the same arrivals, the merged
// results equal one operator's over every partition, whatever the interleaving.
class PartitionedRun {
 public:
  explicit PartitionedRun(WindowSpec spec) : spec_(std::move(spec)) {
    for (const char* part : {"events/0", "events/1", "events/2"})
      ops_.try_emplace(part, spec_);
  }

  void add(const Arrival& a, std::vector<std::string>* late) {
    auto reason = ops_.at(a.partition).add(a.partition, a.ts, a.event);
    if (reason && late) late->push_back(*reason);
  }
  // A checkpoint of every partition, then a merge of what is final.
  void checkpoint_and_merge() {
    for (auto& [part, op] : ops_) {
      for (auto& w : op.close_ready_partials())
        partials_.push_back({part, std::move(w)});
    }
    std::vector<PartitionProgress> progress;
    for (const auto& [part, op] : ops_) {
      progress.push_back({.part = part,
                          .closed_until = op.closed_until() == INT64_MIN
                                              ? std::nullopt
                                              : std::optional<std::int64_t>(op.closed_until()),
                          .idle = false,
                          .open_from = op.earliest_open_start(),
                          // Every partition has events: until it has shown one, none is final.
                          .unread = op.closed_until() == INT64_MIN});
    }
    auto bounds = merge_bounds(progress);
    if (!bounds) return;
    // What the store would return: tumbling and hopping up to the bound, sessions all.
    std::vector<PartitionPartial> candidates;
    for (const auto& p : partials_) {
      if (spec_.kind == WindowSpec::Kind::kSession || p.window.end_ms <= bounds->merge_until) {
        candidates.push_back(p);
      }
    }
    auto merged = merge_partials(spec_, candidates, *bounds);
    ASSERT_TRUE(merged) << merged.error().message;
    for (auto& r : merged.value().results) {
      auto id = std::make_pair(r.key, r.start_ms);
      EXPECT_FALSE(results_.contains(id)) << "merged twice: " << r.key << " " << r.start_ms;
      EXPECT_LE(r.end_ms, bounds->merge_until);
      results_[id] = std::move(r);
    }
    for (const auto& [part, key, start] : merged.value().taken) {
      std::erase_if(partials_, [&](const PartitionPartial& p) {
        return p.part == part && p.window.key == key && p.window.start_ms == start;
      });
    }
  }
  // Every partition closes everything (the streams have gone quiet).
  Results finish() {
    for (auto& [part, op] : ops_)
      op.close_through(INT64_MAX / 2);
    checkpoint_and_merge();
    EXPECT_TRUE(partials_.empty()) << partials_.size() << " partials never merged";
    return results_;
  }

 private:
  WindowSpec spec_;
  std::map<std::string, WindowOperator> ops_;
  std::vector<PartitionPartial> partials_;
  Results results_;
};

void expect_same_results(const Results& merged, const Results& whole) {
  ASSERT_EQ(merged.size(), whole.size());
  for (const auto& [id, r] : whole) {
    auto found = merged.find(id);
    ASSERT_NE(found, merged.end()) << id.first << " " << id.second;
    EXPECT_EQ(found->second.end_ms, r.end_ms);
    EXPECT_EQ(found->second.events, r.events);
    EXPECT_EQ(json::serialize(found->second.values), json::serialize(r.values));
  }
}

TEST(PartialMerge, PartitionsMergeToTheResultsOfOneOperator) {
  for (const WindowSpec& spec : {tumbling(), hopping()}) {
    for (std::uint32_t seed : {21u, 22u}) {
      const auto partitions = generate(seed);
      const auto arrivals = interleave(partitions, {0, 0, 0}, seed * 3);
      WindowOperator whole(spec);
      // Every partition has events to read: none closes anything until each has shown one.
      for (const char* part : {"events/0", "events/1", "events/2"})
        whole.hold(part);
      std::vector<std::string> late_whole, late_parts;
      const Results expected = run(whole, arrivals, &late_whole);
      PartitionedRun parts(spec);
      for (std::size_t i = 0; i < arrivals.size(); ++i) {
        parts.add(*arrivals[i], &late_parts);
        if (i % 53 == 0) parts.checkpoint_and_merge();
      }
      const Results merged = parts.finish();
      EXPECT_EQ(late_parts.size(), late_whole.size());
      EXPECT_GT(late_parts.size(), 50u) << "the stream should have late events";
      expect_same_results(merged, expected);
    }
  }
}

TEST(PartialMerge, SessionsOfDifferentPartitionsThatOverlapAreOne) {
  // Users' events spread over three partitions, each in time order: a session in one
  // partition that overlaps one in another is one session, as one operator sees it.
  std::mt19937 rng(31);
  WindowSpec spec;
  spec.kind = WindowSpec::Kind::kSession;
  spec.gap_ms = 30'000;
  spec.key_fields = {"city"};
  spec.aggregates = specs();
  std::vector<std::vector<Arrival>> partitions(3);
  for (int p = 0; p < 3; ++p) {
    std::int64_t clock = 1'700'000'000'000;
    for (int i = 0; i < 1500; ++i) {
      // Bursts and pauses longer than the gap: sessions open and close along the way.
      clock += std::uniform_int_distribution<int>(0, 9)(rng) == 0
                   ? std::uniform_int_distribution<std::int64_t>(30'000, 200'000)(rng)
                   : std::uniform_int_distribution<std::int64_t>(0, 3'000)(rng);
      json::object e{{"city", "c" + std::to_string(std::uniform_int_distribution<int>(0, 4)(rng))},
                     {"severity", "low"},
                     {"user", "u" + std::to_string(i % 7)},
                     {"value", i % 100}};
      partitions[p].push_back({"events/" + std::to_string(p), clock, std::move(e)});
    }
  }
  const auto arrivals = interleave(partitions, {0, 0, 0}, 5);
  WindowOperator whole(spec);
  for (const char* part : {"events/0", "events/1", "events/2"})
    whole.hold(part);
  std::vector<std::string> late;
  const Results expected = run(whole, arrivals, &late);
  EXPECT_TRUE(late.empty());
  PartitionedRun parts(spec);
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    parts.add(*arrivals[i], nullptr);
    if (i % 37 == 0) parts.checkpoint_and_merge();
  }
  expect_same_results(parts.finish(), expected);
  EXPECT_GT(expected.size(), 100u);
}

TEST(PartialMerge, APartitionWithEventsNotYetShownHoldsEverythingBack) {
  EXPECT_FALSE(merge_bounds({{.part = "s/0", .closed_until = 100},
                             {.part = "s/1", .closed_until = std::nullopt, .unread = true}}));
  // An idle partition does not hold the others back, but its own share must follow first.
  auto bounds = merge_bounds({{.part = "s/0", .closed_until = 500},
                              {.part = "s/1", .closed_until = 100, .idle = true},
                              {.part = "s/2", .closed_until = std::nullopt}});
  ASSERT_TRUE(bounds);
  EXPECT_EQ(bounds->follow, 500);
  EXPECT_EQ(bounds->merge_until, 100);
}

}  // namespace
}  // namespace sluice::windows
