#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "health/readiness.h"
#include "http/request_metrics.h"
#include "log/embedded/embedded_log.h"
#include "log/log_report.h"
#include "metrics/histogram.h"
#include "metrics/process_stats.h"
#include "metrics/registry.h"
#include "sources/http/collector_metrics.h"
#include "test_util.h"

namespace sluice::metrics {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(Histogram, PlacesObservationsAtTheirUpperBound) {
  Histogram h;
  h.observe(50us);   // <= 100 µs
  h.observe(100us);  // exactly on a bound: that bucket (le is "less or equal")
  h.observe(101us);  // the next one
  h.observe(20s);    // above every bound: +Inf
  h.observe(-5ms);   // a clock step back counts as 0
  const auto s = h.snapshot();
  EXPECT_EQ(s.buckets[0], 3u);
  EXPECT_EQ(s.buckets[1], 1u);
  EXPECT_EQ(s.buckets.back(), 1u);
  EXPECT_EQ(s.count(), 5u);
  EXPECT_NEAR(s.sum_seconds, 20.000251, 1e-9);
}

TEST(Histogram, CountsEveryObservationFromManyThreads) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i)
        h.observe(std::chrono::microseconds(t * 1000 + i % 7));
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(h.snapshot().count(), 40000u);
}

TEST(RequestMetrics, StatusesOutsideTheListAreOther) {
  using http::kStatuses;
  using http::status_index;
  EXPECT_EQ(kStatuses[status_index(202)], 202u);
  EXPECT_EQ(kStatuses[status_index(503)], 503u);
  EXPECT_EQ(kStatuses[status_index(418)], 0u);  // "other"
  EXPECT_EQ(http::status_label(status_index(418)), "other");
}

TEST(CollectorMetrics, UnknownStreamsHaveNoCounters) {
  collector::CollectorMetrics m({"web"});
  EXPECT_NE(m.stream("web"), nullptr);
  EXPECT_EQ(m.stream("nope"), nullptr);
  std::string json;
  m.append_json(json, "nope");
  EXPECT_EQ(json, "\"accepted_per_second\":0.0,\"since_start\":null");
}

// Each part registers what it reports; the registry knows none of them.
TEST(Registry, ExposesWhatThePartsRegisterWithCumulativeBuckets) {
  testing::TempDir dir;
  log::EmbeddedLog log(dir.str() + "/log", {"web"}, LogConfig{});
  http::RequestMetrics requests({"/v1/streams/{stream}/events", "(no route)"});
  collector::CollectorMetrics collected({"web"});
  requests.observe(0, 202, 200us);
  requests.observe(0, 202, 3ms);
  collected.stream("web")->accepted += 7;
  collected.stream("web")->rejected[static_cast<std::size_t>(collector::RejectReason::kInvalid)] +=
      2;
  Registry registry;
  registry.add([&log](Families& f) { log::collect_metrics(log, f); });
  registry.add([&requests](Families& f) { requests.collect(f); });
  registry.add([&collected](Families& f) { collected.collect(f); });
  registry.add([&dir](Families& f) {
    collect_disk(f, dir.str());
    collect_process(f);
  });
  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("sluice_ingest_events_accepted_total{stream=\"web\"} 7\n"));
  EXPECT_THAT(
      text,
      HasSubstr("sluice_ingest_events_rejected_total{stream=\"web\",reason=\"invalid\"} 2\n"));
  const std::string route = "route=\"/v1/streams/{stream}/events\",status=\"202\"";
  EXPECT_THAT(text, HasSubstr("sluice_http_request_duration_seconds_bucket{" + route +
                              ",le=\"0.0001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sluice_http_request_duration_seconds_bucket{" + route +
                              ",le=\"0.00025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sluice_http_request_duration_seconds_bucket{" + route +
                              ",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("sluice_http_request_duration_seconds_count{" + route + "} 2\n"));
  // Routes and statuses never answered have no series.
  EXPECT_THAT(text, Not(HasSubstr("status=\"404\"")));
  EXPECT_THAT(text, HasSubstr("sluice_data_dir_free_bytes{dir="));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
}

TEST(ProcessStats, ReadsThisProcess) {
  const auto stats = read_process_stats();
  ASSERT_TRUE(stats);
  EXPECT_GT(stats->resident_bytes, 1u << 20);
  EXPECT_GE(stats->threads, 1u);
  EXPECT_GE(stats->open_fds, 3u);  // stdin, stdout, stderr at least
  // Started within the last day, not at the epoch.
  const auto now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
  EXPECT_LT(now.count() - stats->start_time_seconds, 86400);
  EXPECT_GE(now.count() - stats->start_time_seconds, -5);
}

TEST(Readiness, TheLogAloneIsReadyWhileItTakesAppends) {
  testing::TempDir dir;
  log::EmbeddedLog log(dir.str() + "/log", {"web"}, LogConfig{});
  health::Checks checks;
  checks.add([&log] { return log::readiness(log); });
  const auto readiness = checks.run();
  EXPECT_TRUE(readiness.ready);
  EXPECT_EQ(readiness.json,
            "{\"checks\":{\"log\":{\"ok\":true,\"state\":\"embedded\"}},\"status\":\"ready\"}");
}

// A disk whose fdatasync fails while `failing` is set.
class FailingSyncIo : public log::FileIo {
 public:
  bool failing = false;
  int fdatasync(int fd) override {
    if (failing) {
      errno = EIO;
      return -1;
    }
    return FileIo::fdatasync(fd);
  }
};

TEST(Readiness, NotReadyWhileTheLogFailsThenReadyAgain) {
  testing::TempDir dir;
  FailingSyncIo io;
  log::EmbeddedLog log(dir.str() + "/log", {"web"}, LogConfig{}, io);
  std::vector<std::string> storage;
  io.failing = true;
  EXPECT_FALSE(
      testing::append_sync(log, log::Partition("web", 0), testing::make_batch("a", 1, storage)));
  health::Checks checks;
  checks.add([&log] { return log::readiness(log); });
  auto readiness = checks.run();
  EXPECT_FALSE(readiness.ready);
  EXPECT_THAT(readiness.json, HasSubstr("\"log\":{\"ok\":false,\"state\":\"embedded\","));
  EXPECT_THAT(readiness.json, HasSubstr("the log cannot be written: Input/output error"));
  EXPECT_THAT(readiness.json, HasSubstr("\"status\":\"not ready\""));
  Families families;
  log::collect_metrics(log, families);
  EXPECT_THAT(families.text(), HasSubstr("sluice_log_failing{backend=\"embedded\"} 1\n"));
  io.failing = false;
  EXPECT_TRUE(
      testing::append_sync(log, log::Partition("web", 0), testing::make_batch("b", 1, storage)));
  EXPECT_TRUE(checks.run().ready);
}

}  // namespace
}  // namespace sluice::metrics
