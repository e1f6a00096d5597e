// The consumer runtime: restoring, reading by partition, positions, retries and checkpoints,
// with a client that records what it is given.
#include "consume/consumer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "log/embedded/embedded_log.h"
#include "test_util.h"

namespace sluice::consume {
namespace {

using namespace std::chrono_literals;
using testing::append_sync;
using testing::make_batch;
using testing::TempDir;

class RecordingClient : public Client {
 public:
  std::atomic<int> restore_failures{0};     // restores to fail before one works
  std::atomic<int> checkpoint_failures{0};  // checkpoints to fail
  Positions restored_at;                    // what restore() answers
  std::atomic<int> restores{0};
  std::atomic<bool> finished{false};

  Result<Positions> restore(const std::vector<log::Partition>& /*partitions*/) override {
    ++restores;
    if (restore_failures > 0) {
      --restore_failures;
      return make_error(Errc::kUnavailable, "store away");
    }
    return restored_at;
  }
  Result<Handled> handle(const log::Partition&, log::Offset, const log::ReadBatch& batch) override {
    std::lock_guard lock(mutex);
    for (const auto& record : batch.records)
      offsets.push_back(record.offset);
    return Handled{.next = batch.next_offset, .full = false};
  }
  Result<void> after_pass(bool) override {
    if (checkpoint_failures > 0) {
      --checkpoint_failures;
      return make_error(Errc::kUnavailable, "checkpoint store away");
    }
    return boost::outcome_v2::success();
  }
  void finish() override { finished = true; }

  std::size_t handled() {
    std::lock_guard lock(mutex);
    return offsets.size();
  }
  std::mutex mutex;
  std::vector<log::Offset> offsets;
};

Options options() {
  return {.name = "test",
          .who = "test",
          .streams = {"events"},
          .batch_events = 7,
          .backoff = Backoff(1ms, 5ms)};
}

template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  return condition();
}

// A log of one stream, "events", of one partition.
struct OneStream {
  TempDir dir;
  log::EmbeddedLog log{dir.str(), {"events"}, LogConfig{}};
  std::vector<std::string> storage;

  // Appends `n` records with ids `<prefix>-0`, `<prefix>-1`, …
  bool append(const std::string& prefix, int n) {
    return static_cast<bool>(
        append_sync(log, log::Partition("events", 0), make_batch(prefix, n, storage)));
  }
};

TEST(Consumer, RetriesItsRestoreThenHandsOverEveryRecordOnceFromThere) {
  OneStream events;
  auto& log = events.log;
  ASSERT_TRUE(events.append("e", 50));
  RecordingClient client;
  client.restore_failures = 3;
  client.restored_at = {{log::Partition("events", 0), 20}};
  Consumer consumer(options(), log, client);
  EXPECT_FALSE(consumer.lag());  // unknown until restored
  consumer.start();
  ASSERT_TRUE(eventually([&] { return client.handled() == 30; }));
  EXPECT_EQ(client.restores, 4);
  EXPECT_EQ(client.offsets.front(), 20u);
  EXPECT_EQ(client.offsets.back(), 49u);
  EXPECT_EQ(consumer.positions().at(log::Partition("events", 0)), 50u);
  EXPECT_EQ(consumer.lag(), 0u);
  // New records are read when the log says so.
  ASSERT_TRUE(events.append("f", 5));
  consumer.notify();
  ASSERT_TRUE(eventually([&] { return client.handled() == 35; }));
  EXPECT_TRUE(eventually([&] { return consumer.progress().state == "running"; }));
  EXPECT_EQ(consumer.progress().read, 35u);
  EXPECT_EQ(consumer.progress().last_error, "store away");
  consumer.stop();
  EXPECT_TRUE(client.finished);
  EXPECT_EQ(consumer.progress().state, "stopped");
}

TEST(Consumer, AFailedCheckpointRestoresWhenTheClientAsks) {
  OneStream events;
  auto& log = events.log;
  ASSERT_TRUE(events.append("e", 10));
  RecordingClient client;
  client.checkpoint_failures = 1;
  auto restoring = options();
  restoring.restore_after_failed_checkpoint = true;
  Consumer consumer(restoring, log, client);
  consumer.start();
  // The first pass read 7 (batch_events), its checkpoint failed, the client was restored to 0
  // and all 10 were read again.
  ASSERT_TRUE(eventually([&] { return client.handled() == 17; }));
  EXPECT_EQ(client.restores, 2);
  EXPECT_EQ(client.offsets[6], 6u);
  EXPECT_EQ(client.offsets[7], 0u);
  EXPECT_EQ(consumer.positions().at(log::Partition("events", 0)), 10u);
  consumer.stop();
}

TEST(Consumer, StopsWhileItsRestoreKeepsFailing) {
  OneStream events;
  auto& log = events.log;
  RecordingClient client;
  client.restore_failures = 1'000'000;
  Consumer consumer(options(), log, client);
  consumer.start();
  ASSERT_TRUE(eventually([&] { return consumer.progress().state == "retrying"; }));
  consumer.stop();
  EXPECT_EQ(consumer.progress().state, "stopped");
  EXPECT_EQ(client.handled(), 0u);
}

}  // namespace
}  // namespace sluice::consume
