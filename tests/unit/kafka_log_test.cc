// The Kafka log's interface against librdkafka's mock cluster, hosted in this process (3 brokers
// on real loopback TCP): appends, reads from any offset, end offsets, consumer group commits,
// the records' JSON-with-headers format, and records that other producers wrote.

#include "log/kafka/kafka_log.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka_mock.h>

#include <set>
#include <thread>

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

  // A plain client of the cluster, as another service would be.
  rd_kafka_t* client(rd_kafka_type_t type) const {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", config_.brokers.c_str(), error, sizeof(error));
    if (type == RD_KAFKA_CONSUMER) {
      rd_kafka_conf_set(conf, "group.id", "plain", error, sizeof(error));
      rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", error, sizeof(error));
    }
    rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));
    EXPECT_NE(rk, nullptr) << error;
    return rk;
  }

  // Produces `value` to t.a partition 0 with one header, if `format` is not empty.
  void produce(const std::string& value, const std::string& format = "") const {
    rd_kafka_t* producer = client(RD_KAFKA_PRODUCER);
    rd_kafka_headers_t* headers = rd_kafka_headers_new(1);
    if (!format.empty()) rd_kafka_header_add(headers, "sluice-format", -1, format.data(), -1);
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("t.a"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_HEADERS(headers),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_flush(producer, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
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

namespace sluice::log {
namespace {

std::string header(rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "(none)";
  }
  return std::string(static_cast<const char*>(value), size);
}

TEST_F(KafkaLogTest, RecordsAreTheEventsJsonWithTheEnvelopeInHeaders) {
  KafkaLog log(config_, {{"a", 2}});
  const std::string payload = R"({"device":"d1","n":1})";
  RecordBatch batch;
  batch.add(EventView{.id = "e-1",
                      .ts_ms = 1'700'000'000'123,
                      .received_at_ms = 1'700'000'001'000,
                      .key = "d1",
                      .type = "click",
                      .payload = payload});
  ASSERT_TRUE(append_sync(log, Partition("a", 0), std::move(batch)));

  rd_kafka_t* consumer = client(RD_KAFKA_CONSUMER);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "t.a", 0)->offset = 0;
  ASSERT_EQ(rd_kafka_assign(consumer, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_message_t* message = nullptr;
  for (int i = 0; i < 100 && !message; ++i) {
    message = rd_kafka_consumer_poll(consumer, 100);
    if (message && message->err) {
      rd_kafka_message_destroy(message);
      message = nullptr;
    }
  }
  ASSERT_NE(message, nullptr);
  EXPECT_EQ(std::string(static_cast<const char*>(message->payload), message->len), payload);
  EXPECT_EQ(std::string(static_cast<const char*>(message->key), message->key_len), "d1");
  rd_kafka_timestamp_type_t type;
  EXPECT_EQ(rd_kafka_message_timestamp(message, &type), 1'700'000'000'123);
  rd_kafka_headers_t* headers = nullptr;
  ASSERT_EQ(rd_kafka_message_headers(message, &headers), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(header(headers, "sluice-format"), "2");
  EXPECT_EQ(header(headers, "sluice-id"), "e-1");
  EXPECT_EQ(header(headers, "sluice-stream"), "a");
  EXPECT_EQ(header(headers, "sluice-ts"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(header(headers, "sluice-received-at"), "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(header(headers, "sluice-key"), "d1");
  EXPECT_EQ(header(headers, "sluice-type"), "click");
  rd_kafka_message_destroy(message);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);

  // And the log reads its own record back as the same event.
  auto read = log.read(Partition("a", 0), 0, 10);
  for (int i = 0; i < 100 && read && read.value().records.empty(); ++i)
    read = log.read(Partition("a", 0), 0, 10);
  ASSERT_TRUE(read && read.value().records.size() == 1);
  const auto event = decode_event(read.value().records[0].bytes);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->id, "e-1");
  EXPECT_EQ(event->ts_ms, 1'700'000'000'123);
  EXPECT_EQ(event->received_at_ms, 1'700'000'001'000);
  EXPECT_EQ(event->key, std::optional<std::string_view>("d1"));
  EXPECT_EQ(event->type, std::optional<std::string_view>("click"));
  EXPECT_EQ(event->payload, payload);
}

TEST_F(KafkaLogTest, ReadsEarlierFormatsAndOtherProducersRecords) {
  KafkaLog log(config_, {{"a", 2}});
  // What an earlier version wrote: the binary record as the value, no headers.
  std::string legacy;
  encode_event(EventView{.id = "old-1", .ts_ms = 5, .received_at_ms = 6, .payload = "{}"}, legacy);
  produce(legacy);
  produce(R"({"from":"another service"})");  // another producer's JSON object
  produce("not json at all");                // skipped
  produce(R"({"n":1})", "9");                // a newer format than this version reads: skipped
  produce(R"({"n":2})", "2");                // format 2 without its envelope: skipped
  std::vector<std::string> storage;
  ASSERT_TRUE(append_sync(log, Partition("a", 0), make_batch("new", 1, storage)));

  log.set_foreign_reader("a", [](const ForeignRecord& record, std::string& out) -> Result<void> {
    if (record.value.empty() || record.value.front() != '{') {
      return make_error(Errc::kInvalidInput, "not a JSON object");
    }
    const std::string id = "foreign-" + std::to_string(record.offset);
    encode_event(EventView{.id = id, .ts_ms = *record.timestamp_ms, .payload = record.value}, out);
    return boost::outcome_v2::success();
  });
  auto ids = read_ids(log, Partition("a", 0), 0, 3);
  EXPECT_EQ(ids, (std::vector<std::string>{"old-1", "foreign-1", "new-0"}));
  EXPECT_EQ(log.stats().unreadable, (std::map<std::string, std::uint64_t>{{"a", 3}}));
  // Read again (another consumer): the same events, the skipped records counted once.
  EXPECT_EQ(read_ids(log, Partition("a", 0), 0, 3), ids);
  EXPECT_EQ(log.stats().unreadable.at("a"), 3u);
}

}  // namespace
}  // namespace sluice::log

namespace sluice::log {
namespace {

// What a group member holds, as its listener was told.
struct Held : GroupMember::Listener {
  void assigned(const std::vector<Partition>& partitions) override {
    held.insert(partitions.begin(), partitions.end());
  }
  void revoked(const std::vector<Partition>& partitions) override {
    for (const auto& p : partitions)
      held.erase(p);
    ++revocations;
  }
  std::set<Partition> held;
  int revocations = 0;
};

// Polls both members until each holds one partition. Cooperative: one rebalance takes a
// partition from a member, a later one gives it to the other. The mock cluster ends each join
// phase session_timeout - 1 s after it began, and takes a few rounds at times: up to a minute.
void share(GroupMember& first, Held& a, GroupMember& second, Held& b) {
  for (int i = 0; i < 1200 && (a.held.size() != 1 || b.held.size() != 1); ++i) {
    first.poll(a);
    second.poll(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_F(KafkaLogTest, GroupMembersShareThePartitionsAndHandThemOver) {
  config_.session_timeout = std::chrono::seconds(6);
  KafkaLog log(config_, {{"a", 2}});
  auto first = log.join("g", {"a"});
  ASSERT_NE(first, nullptr);
  Held a;
  for (int i = 0; i < 300 && a.held.size() < 2; ++i) {
    first->poll(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(a.held.size(), 2u) << "the only member holds every partition";
  EXPECT_FALSE(first->id().empty());

  auto second = log.join("g", {"a"});
  Held b;
  share(*first, a, *second, b);
  ASSERT_EQ(a.held.size(), 1u);
  ASSERT_EQ(b.held.size(), 1u);
  EXPECT_NE(*a.held.begin(), *b.held.begin()) << "each partition to one member";
  EXPECT_EQ(a.revocations, 1) << "cooperative: the first member gave up one partition only";

  // A commit as a member is accepted by the group (a non-member's would be refused now).
  ASSERT_TRUE(log.commit("g", *a.held.begin(), 7));
  EXPECT_EQ(log.committed("g", *a.held.begin()).value(), std::optional<Offset>(7));

  second->leave(b);  // a graceful leave: the other takes over at once
  EXPECT_TRUE(b.held.empty());
  for (int i = 0; i < 300 && a.held.size() < 2; ++i) {
    first->poll(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(a.held.size(), 2u);
}

TEST_F(KafkaLogTest, AMemberCommittingWhileAnotherLeavesKeepsItsPartitions) {
  config_.session_timeout = std::chrono::seconds(3);
  KafkaLog log(config_, {{"a", 2}});
  auto first = log.join("g", {"a"});
  auto second = log.join("g", {"a"});
  Held a;
  Held b;
  share(*first, a, *second, b);
  ASSERT_EQ(a.held.size(), 1u);
  ASSERT_EQ(b.held.size(), 1u);
  const Partition mine = *a.held.begin();
  const int revocations = a.revocations;

  // The first member commits after every poll, as a busy consumer does, all through the
  // rebalance that the second one's leave starts. A commit sent during a rebalance carries the
  // old generation; had it gone out, the brokers' refusal would have cost this member its
  // partition.
  second->leave(b);
  Offset offset = 100;
  for (int i = 0; i < 300 && a.held.size() < 2; ++i) {
    first->poll(a);
    first->commit(mine, ++offset);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(a.held.size(), 2u);
  EXPECT_EQ(a.revocations, revocations) << "the member gave up a partition it kept";

  // What it commits reaches the group within a commit interval (a second).
  std::optional<Offset> committed;
  for (int i = 0; i < 100 && committed != std::optional<Offset>(offset); ++i) {
    first->poll(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    committed = log.committed("g", mine).value();
  }
  EXPECT_EQ(committed, std::optional<Offset>(offset));
}

TEST_F(KafkaLogTest, WithoutConsumerGroupsNothingJoins) {
  config_.consumer_groups = false;
  KafkaLog log(config_, {{"a", 2}});
  EXPECT_EQ(log.join("g", {"a"}), nullptr);
}

}  // namespace
}  // namespace sluice::log
