#include "store/rollup.h"

#include <gtest/gtest.h>

namespace sluice::store {
namespace {

TEST(RollupFields, ValuesAsJsonTextStringsEscapedAgainOthersAsSent) {
  RollupFields fields({"city", "geo.zone", "n"});
  std::array<std::string, 3> out;
  fields.read(R"({"city":"N\u0059C","geo":{"zone":  7 },"n":1.50})", out);
  EXPECT_EQ(out[0], "\"NYC\"");  // the same string however it was escaped
  EXPECT_EQ(out[1], "7");        // nested, whitespace around it dropped
  EXPECT_EQ(out[2], "1.50");     // numbers as sent: 1.50 and 1.5 are different groups
  fields.read(R"({"city":"Oslo","n":[1, 2]})", out);
  EXPECT_EQ(out[0], "\"Oslo\"");
  EXPECT_EQ(out[1], "null");  // missing
  EXPECT_EQ(out[2], "[1, 2]");
  fields.read("not json", out);
  EXPECT_EQ(out[0], "null");
}

TEST(RollupFields, NoFieldsReadsNothing) {
  RollupFields fields({});
  std::array<std::string, 3> out = {"x", "y", "z"};
  fields.read(R"({"a":1})", out);
  EXPECT_EQ(out, (std::array<std::string, 3>{"null", "null", "null"}));
}

TEST(RollupBatch, CountsByMinuteTypeAndFieldsAndLagBuckets) {
  RollupBatch batch;
  const std::array<std::string, 3> nyc = {"\"NYC\"", "null", "null"};
  batch.add(120'000, 121'000, "fire", nyc);  // minute 2, lag 1 s
  batch.add(179'999, 181'000, "fire", nyc);  // minute 2 too
  batch.add(180'000, 180'000, std::nullopt, nyc);
  batch.add(-1, 0, "fire", nyc);  // before the epoch: minute -1, not 0
  EXPECT_EQ((batch.counts[{2, "\"fire\"", "\"NYC\"", "null", "null"}]), 2);
  EXPECT_EQ((batch.counts[{3, "null", "\"NYC\"", "null", "null"}]), 1);
  EXPECT_EQ((batch.counts[{-1, "\"fire\"", "\"NYC\"", "null", "null"}]), 1);
  EXPECT_EQ((batch.lag[{3, 0}]), 1);  // no lag
}

TEST(LagBucket, FourPerDoublingAndTheMiddleStandsForThem) {
  EXPECT_EQ(lag_bucket(0), 0);
  EXPECT_EQ(lag_bucket(-5), 0);
  EXPECT_EQ(lag_bucket(1), 1);
  EXPECT_EQ(lag_bucket(1024), 41);
  for (std::int64_t ms : {3, 17, 250, 1000, 60'000, 3'600'000}) {
    const double middle = lag_bucket_ms(lag_bucket(ms));
    EXPECT_NEAR(middle, static_cast<double>(ms), 0.1 * static_cast<double>(ms)) << ms;
  }
}

}  // namespace
}  // namespace sluice::store
