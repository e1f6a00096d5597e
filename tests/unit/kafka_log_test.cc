// The Kafka log's interface against librdkafka's mock cluster, hosted in this process (3 brokers
// on real loopback TCP): appends, reads from any offset, end offsets, consumer group commits.

#include "log/kafka/kafka_log.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka_mock.h>

#include "test_util.h"

namespace sluice::log {
namespace {

using sluice::testing::append_sync;
using sluice::testing::make_batch;

class KafkaLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    ASSERT_NE(host_, nullptr) << error;
    cluster_ = rd_kafka_mock_cluster_new(host_, 3);
    ASSERT_NE(cluster_, nullptr);
    config_.brokers = rd_kafka_mock_cluster_bootstraps(cluster_);
    config_.delivery_timeout = std::chrono::seconds(5);
    config_.max_in_flight_bytes = 64 << 20;
    config_.replication_factor = -1;
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "t.a", 2, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    config_.topic_prefix = "t.";
  }
  void TearDown() override {
    if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
    if (host_) rd_kafka_destroy(host_);
  }

  // Reads until `count` records arrived (the first fetch of a new consumer takes a moment).
  static std::vector<std::string> read_ids(Log& log, const Partition& partition, Offset from,
                                           std::size_t count) {
    std::vector<std::string> ids;
    for (int attempt = 0; attempt < 500 && ids.size() < count; ++attempt) {
      auto batch = log.read(partition, from, count - ids.size());
      EXPECT_TRUE(batch);
      if (!batch) break;
      for (const auto& r : batch.value().records)
        ids.emplace_back(decode_event(r.bytes)->id);
      from = batch.value().next_offset;
    }
    return ids;
  }

  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  KafkaConfig config_;
};

TEST_F(KafkaLogTest, AppendsReadsAndCommits) {
  KafkaLog log(config_, {{"a", 2}});
  EXPECT_EQ(log.partitions("a"), 2u);
  std::vector<std::string> storage;
  auto first = append_sync(log, Partition("a", 1), make_batch("x", 10, storage));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first.value(), 0u);
  auto second = append_sync(log, Partition("a", 1), make_batch("y", 5, storage));
  ASSERT_TRUE(second);
  EXPECT_EQ(second.value(), 10u);
  EXPECT_EQ(log.end_offset(Partition("a", 1)), 15u);
  EXPECT_EQ(log.end_offset(Partition("a", 0)), 0u);

  auto all = read_ids(log, Partition("a", 1), 0, 15);
  ASSERT_EQ(all.size(), 15u);
  EXPECT_EQ(all.front(), "x-0");
  EXPECT_EQ(all[10], "y-0");
  auto tail = read_ids(log, Partition("a", 1), 12, 3);  // a read elsewhere repositions
  EXPECT_EQ(tail, (std::vector<std::string>{"y-2", "y-3", "y-4"}));

  auto none = log.committed("g1", Partition("a", 1));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none.value().has_value());
  ASSERT_TRUE(log.commit("g1", Partition("a", 1), 12));
  EXPECT_EQ(log.committed("g1", Partition("a", 1)).value(), std::optional<Offset>(12));
  EXPECT_FALSE(log.committed("g2", Partition("a", 1)).value().has_value());

  auto unknown = append_sync(log, Partition("a", 5), make_batch("z", 1, storage));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);
}

TEST_F(KafkaLogTest, TooFewPartitionsStopsTheStart) {
  EXPECT_THROW(KafkaLog(config_, {{"a", 3}}), std::runtime_error);
}

TEST_F(KafkaLogTest, UnreachableBrokersFailAppendsAfterTheTimeout) {
  config_.delivery_timeout = std::chrono::seconds(2);
  KafkaLog log(config_, {{"a", 2}});
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_down(cluster_, broker);
  std::vector<std::string> storage;
  auto result = append_sync(log, "a", make_batch("x", 3, storage));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_up(cluster_, broker);
}

// Closing waits for the delivery timeout at most; what the brokers have not taken by then
// is answered with an error, not left waiting (the request that waits for it is told).
TEST_F(KafkaLogTest, CloseAnswersAppendsTheBrokersNeverTook) {
  config_.delivery_timeout = std::chrono::seconds(1);
  std::optional<KafkaLog> log(std::in_place, config_, std::vector<StreamSpec>{{"a", 2}});
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_down(cluster_, broker);
  std::vector<std::string> storage;
  std::atomic<int> answers = 0;
  std::atomic<bool> failed = false;
  log->append(Partition("a", 0), make_batch("x", 3, storage), [&](Result<Offset> r) {
    failed = !r;
    ++answers;
  });
  log->close();
  EXPECT_EQ(answers.load(), 1);
  EXPECT_TRUE(failed.load());
  log.reset();
  EXPECT_EQ(answers.load(), 1);
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_up(cluster_, broker);
}

// Past log.kafka.max_in_flight_bytes an append fails at once (HTTP 503) instead of buffering
// without bound while the brokers are away.
TEST_F(KafkaLogTest, AppendsPastTheInFlightLimitFailAtOnce) {
  config_.max_in_flight_bytes = 1 << 20;
  config_.delivery_timeout = std::chrono::seconds(120);
  KafkaLog log(config_, {{"a", 2}});
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_down(cluster_, broker);
  RecordBatch big;
  const std::string payload = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";
  for (int i = 0; i < 2000; ++i) {  // about 2 MiB
    big.add(EventView{.id = "big", .ts_ms = 1, .received_at_ms = 1, .payload = payload});
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = append_sync(log, "a", std::move(big));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
  EXPECT_NE(result.error().message.find("max_in_flight_bytes"), std::string::npos)
      << result.error().message;
  EXPECT_LT(waited, std::chrono::seconds(60)) << "it waited for the delivery timeout";
  EXPECT_EQ(log.stats().failed_appends, 1u);
  // Let the queued part be delivered so closing does not wait for the timeout.
  for (int broker = 1; broker <= 3; ++broker)
    rd_kafka_mock_broker_set_up(cluster_, broker);
}

}  // namespace
}  // namespace sluice::log
