// Whether an error is worth retrying: decided where the cause is known, used by the consumer
// runtime's retries and by batch splitting.
#include <gtest/gtest.h>

#include "consume/backoff.h"
#include "core/result.h"
#include "pipeline/sink.h"
#include "store/pg_connection.h"
#include "store/sqlite_db.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(Fault, TheCodesUsualFaultUnlessTheModuleSays) {
  EXPECT_EQ(make_error(Errc::kUnavailable, "away").fault, Fault::kTransient);
  EXPECT_EQ(make_error(Errc::kInvalidInput, "bad value").fault, Fault::kData);
  EXPECT_EQ(make_error(Errc::kCorrupt, "undecodable").fault, Fault::kPermanent);
  EXPECT_EQ(make_error(Errc::kUnavailable, "no permission", Fault::kPermanent).fault,
            Fault::kPermanent);
  EXPECT_STREQ(fault_name(Fault::kData), "data");
}

TEST(Fault, PostgresStatesByClass) {
  EXPECT_EQ(pg::fault_of("22021"), Fault::kData);       // invalid byte sequence
  EXPECT_EQ(pg::fault_of("23505"), Fault::kData);       // unique violation
  EXPECT_EQ(pg::fault_of("54000"), Fault::kData);       // program limit exceeded
  EXPECT_EQ(pg::fault_of("28P01"), Fault::kPermanent);  // password authentication failed
  EXPECT_EQ(pg::fault_of("42501"), Fault::kPermanent);  // insufficient privilege
  EXPECT_EQ(pg::fault_of("57P01"), Fault::kTransient);  // admin shutdown
  EXPECT_EQ(pg::fault_of("40P01"), Fault::kTransient);  // deadlock
  EXPECT_EQ(pg::fault_of(""), Fault::kTransient);       // no answer at all
}

TEST(Fault, SqliteCodes) {
  EXPECT_EQ(sqlite::fault_of(SQLITE_TOOBIG), Fault::kData);
  EXPECT_EQ(sqlite::fault_of(SQLITE_CONSTRAINT_UNIQUE), Fault::kData);  // extended codes too
  EXPECT_EQ(sqlite::fault_of(SQLITE_READONLY), Fault::kPermanent);
  EXPECT_EQ(sqlite::fault_of(SQLITE_BUSY), Fault::kTransient);
  EXPECT_EQ(sqlite::fault_of(SQLITE_FULL), Fault::kTransient);
}

TEST(Fault, SinksSplitOnDataAndRetryTheRest) {
  auto data = pipeline::WriteOutcome::failed(make_error(Errc::kInvalidInput, "too long"));
  EXPECT_EQ(data.status, pipeline::WriteOutcome::Status::kRejected);
  EXPECT_TRUE(data.split);
  auto permanent = pipeline::WriteOutcome::failed(
      make_error(Errc::kUnavailable, "permission denied", Fault::kPermanent));
  EXPECT_EQ(permanent.status, pipeline::WriteOutcome::Status::kRetry);
  auto transient = pipeline::WriteOutcome::failed(make_error(Errc::kUnavailable, "locked"));
  EXPECT_EQ(transient.status, pipeline::WriteOutcome::Status::kRetry);
}

TEST(Backoff, DoublesToItsMostAndStartsOverAfterASuccess) {
  consume::Backoff backoff(100ms, 1000ms);
  EXPECT_EQ(backoff.next(), 100ms);
  EXPECT_TRUE(backoff.first_failure());
  EXPECT_EQ(backoff.next(), 200ms);
  EXPECT_EQ(backoff.next(), 400ms);
  EXPECT_EQ(backoff.next(), 800ms);
  EXPECT_EQ(backoff.next(), 1000ms);
  backoff.reset();
  EXPECT_EQ(backoff.current(), 0ms);
  EXPECT_EQ(backoff.longest(), 1000ms);  // a permanent fault waits the most at once
}

}  // namespace
}  // namespace sluice
