// The processor against the embedded log and a store that refuses what it cannot hold.
#include "processor/processor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "log/embedded/embedded_log.h"
#include "test_util.h"

namespace sluice {
namespace {

using sluice::testing::append_sync;
using sluice::testing::make_batch;
using sluice::testing::TempDir;

// Stores events by id; refuses, as PostgreSQL does a value it cannot take, any batch holding
// one of `poison`.
class RefusingStore : public store::StoreWriter {
 public:
  explicit RefusingStore(std::set<std::string> poison) : poison_(std::move(poison)) {}

  Result<std::map<log::Partition, log::Offset>> committed_offsets(const std::string&) override {
    std::lock_guard lock(mutex_);
    return offsets_;
  }
  Result<std::map<log::Partition, std::uint64_t>> skipped(const std::string&) override {
    return std::map<log::Partition, std::uint64_t>{};
  }
  Result<void> prepare_statistics(const std::vector<std::string>&) override {
    return boost::outcome_v2::success();
  }
  Result<void> write(const std::string&, const log::Partition& partition,
                     const log::ReadBatch& batch) override {
    std::lock_guard lock(mutex_);
    for (const auto& record : batch.records) {
      auto event = decode_event(record.bytes);
      if (poison_.contains(std::string(event->id))) {
        return make_error(Errc::kInvalidInput, "value the store cannot hold");
      }
    }
    for (const auto& record : batch.records)
      stored_.emplace(decode_event(record.bytes)->id);
    offsets_[partition] = batch.next_offset;
    return boost::outcome_v2::success();
  }
  std::set<std::string> stored() {
    std::lock_guard lock(mutex_);
    return stored_;
  }
  log::Offset offset(const log::Partition& partition) {
    std::lock_guard lock(mutex_);
    return offsets_[partition];
  }

 private:
  std::mutex mutex_;
  std::set<std::string> poison_;
  std::set<std::string> stored_;
  std::map<log::Partition, log::Offset> offsets_;
};

// One event the store refuses used to be retried for ever, and nothing after it was stored.
TEST(Processor, AnEventTheStoreRefusesGoesToTheDeadLettersAlone) {
  TempDir dir;
  log::EmbeddedLog log(dir.str(), {"events", "dead"}, LogConfig{});
  std::vector<std::string> storage;
  ASSERT_TRUE(append_sync(log, "events", make_batch("e", 100, storage)));
  auto owned = std::make_unique<RefusingStore>(std::set<std::string>{"e-37", "e-38", "e-90"});
  RefusingStore& store = *owned;
  std::map<std::string, StreamConfig> dead_letters{{"events", StreamConfig{.name = "dead"}}};
  Processor processor(log, StoreConfig{.batch_max_events = 64}, std::move(owned), dead_letters);
  processor.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // The 97 others, and the 3 dead letters themselves (the dead-letter stream is stored too, in
  // a pass after the one that refused them).
  while ((store.offset(log::Partition("events", 0)) < 100 || store.stored().size() < 100) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(store.offset(log::Partition("events", 0)), 100u);
  EXPECT_EQ(store.stored().size(), 100u);
  EXPECT_TRUE(store.stored().contains("store:events:0:37"));
  EXPECT_FALSE(store.stored().contains("e-37"));
  EXPECT_TRUE(store.stored().contains("e-39"));
  EXPECT_EQ(processor.refused(), 3u);
  auto dead = log.read(log::Partition("dead", 0), 0, 10);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead.value().records.size(), 3u);
  auto first = decode_event(dead.value().records[0].bytes);
  ASSERT_TRUE(first);
  EXPECT_NE(first->payload.find("value the store cannot hold"), std::string_view::npos);
  EXPECT_NE(first->payload.find("\"offset\":37"), std::string_view::npos) << first->payload;
}

}  // namespace
}  // namespace sluice
