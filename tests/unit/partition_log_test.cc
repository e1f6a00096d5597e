// Segments and retention of the embedded log (src/log/embedded/partition_log.cc).

#include "log/embedded/partition_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>

#include "log/embedded/embedded_log.h"
#include "test_util.h"

namespace sluice::log {
namespace {

using sluice::testing::append_sync;
using sluice::testing::make_batch;
using sluice::testing::TempDir;

LogConfig small_segments() {
  LogConfig config;
  config.segment_bytes = 64 * 1024;
  return config;
}

std::vector<Offset> offsets_from(Log& log, Offset from) {
  std::vector<Offset> offsets;
  for (;;) {
    auto batch = log.read("a", from, 37);
    EXPECT_TRUE(batch);
    if (!batch || batch.value().records.empty()) return offsets;
    for (const auto& r : batch.value().records)
      offsets.push_back(r.offset);
    from = batch.value().next_offset;
  }
}

// Appends `batches` batches of 50 events (about 2.2 KiB each).
void fill(Log& log, int batches) {
  std::vector<std::string> storage;
  for (int b = 0; b < batches; ++b) {
    ASSERT_TRUE(append_sync(log, "a", make_batch("b" + std::to_string(b), 50, storage)));
  }
}

// Fails fsync on directories once told to, as a disk that errs would.
class DirSyncFails : public FileIo {
 public:
  int open(const std::string& path, int flags, mode_t mode) override {
    const int fd = FileIo::open(path, flags, mode);
    std::lock_guard lock(mutex_);
    if (fd >= 0 && (flags & O_DIRECTORY)) directories_.insert(fd);
    return fd;
  }
  int close(int fd) override {
    {
      std::lock_guard lock(mutex_);
      directories_.erase(fd);
    }
    return FileIo::close(fd);
  }
  int fsync(int fd) override {
    std::unique_lock lock(mutex_);
    const bool directory = directories_.contains(fd);
    lock.unlock();
    if (failing && directory) {
      errno = EIO;
      return -1;
    }
    return FileIo::fsync(fd);
  }
  std::atomic<bool> failing{false};

 private:
  std::mutex mutex_;
  std::set<int> directories_;
};

// The directory sync after a segment roll made the new file durable; its error was ignored and
// events were acknowledged into a file whose entry might not survive a power cut.
TEST(PartitionLog, ADirectorySyncErrorFailsTheRollAndTheAppend) {
  TempDir dir;
  DirSyncFails io;
  EmbeddedLog log(dir.str(), {"a"}, small_segments(), io);
  std::vector<std::string> storage;
  io.failing = true;
  bool refused = false;
  for (int b = 0; b < 100 && !refused; ++b) {
    auto appended = append_sync(log, "a", make_batch("b" + std::to_string(b), 50, storage));
    if (!appended) {
      EXPECT_EQ(appended.error().code, Errc::kUnavailable);
      EXPECT_NE(appended.error().message.find("cannot sync directory"), std::string::npos)
          << appended.error().message;
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "a segment rolled with its directory sync failing";
  EXPECT_EQ(log.partition_log("a")->segment_count(), 1u);
  EXPECT_GE(log.stats().failed_appends, 1u);
  io.failing = false;
  EXPECT_TRUE(append_sync(log, "a", make_batch("after", 50, storage)));
  EXPECT_EQ(log.partition_log("a")->segment_count(), 2u);
}

TEST(PartitionLog, RollsSegmentsAndReadsAcrossThem) {
  TempDir dir;
  {
    EmbeddedLog log(dir.str(), {"a"}, small_segments());
    fill(log, 150);
    const auto* partition = log.partition_log("a");
    ASSERT_NE(partition, nullptr);
    EXPECT_GE(partition->segment_count(), 4u);
    EXPECT_EQ(offsets_from(log, 0).size(), 7500u);
  }
  // Segment files are named by their first offset, and reopen to the same log.
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "a" / "0")) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(*names.begin(), PartitionLog::segment_name(0));
  EmbeddedLog reopened(dir.str(), {"a"}, small_segments());
  EXPECT_EQ(reopened.partition_log("a")->segment_count(), names.size());
  auto offsets = offsets_from(reopened, 1234);
  ASSERT_EQ(offsets.size(), 7500u - 1234u);
  EXPECT_EQ(offsets.front(), 1234u);
  EXPECT_EQ(offsets.back(), 7499u);
  std::vector<std::string> storage;
  auto next = append_sync(reopened, "a", make_batch("after", 1, storage));
  ASSERT_TRUE(next);
  EXPECT_EQ(next.value(), 7500u);
}

TEST(PartitionLog, RetentionBySizeDeletesTheOldestSegments) {
  TempDir dir;
  LogConfig config = small_segments();
  config.retention_bytes = 150 * 1024;
  EmbeddedLog log(dir.str(), {"a"}, config);
  fill(log, 150);  // about 330 KiB
  const auto* partition = log.partition_log("a");
  EXPECT_GT(log.stats().segments_deleted, 0u);
  EXPECT_LE(partition->size_bytes(), config.retention_bytes + config.segment_bytes);
  const Offset start = partition->start_offset();
  EXPECT_GT(start, 0u);
  // A consumer behind the retained data continues at the oldest offset kept.
  auto offsets = offsets_from(log, 0);
  ASSERT_FALSE(offsets.empty());
  EXPECT_EQ(offsets.front(), start);
  EXPECT_EQ(offsets.back(), 7499u);
  EXPECT_EQ(offsets.size(), 7500u - start);
}

// Retention deleted segments a pipeline had not read while its receiver was down: acknowledged
// events were never delivered, without a word.
TEST(PartitionLog, UnderProtectRetentionKeepsWhatAConsumerNeedsAndRefusesAtTheBudget) {
  TempDir dir;
  LogConfig config = small_segments();
  config.retention_bytes = 150 * 1024;
  ASSERT_EQ(config.retention_policy, "protect");  // the default
  EmbeddedLog log(dir.str(), {"a"}, config);
  log.hold("pipeline.slow", "a", 0);
  log.hold("store", "a", 0);
  std::vector<std::string> storage;
  std::optional<Error> refused;
  int accepted = 0;
  for (int b = 0; b < 200 && !refused; ++b) {
    auto appended = append_sync(log, "a", make_batch("b" + std::to_string(b), 50, storage));
    if (appended) {
      ++accepted;
    } else {
      refused = appended.error();
    }
  }
  ASSERT_TRUE(refused) << "the budget never stopped appends";
  EXPECT_EQ(refused->code, Errc::kUnavailable);
  EXPECT_NE(refused->message.find("log.retention_bytes"), std::string::npos) << refused->message;
  EXPECT_NE(refused->message.find("pipeline.slow"), std::string::npos) << refused->message;
  EXPECT_EQ(log.stats().segments_deleted, 0u);
  // Every acknowledged event is still there for the consumer.
  auto offsets = offsets_from(log, 0);
  ASSERT_EQ(offsets.size(), static_cast<std::size_t>(accepted) * 50);
  EXPECT_EQ(offsets.front(), 0u);

  // One consumer catching up is not enough; the other catching up (or being removed) is.
  const Offset end = log.end_offset("a");
  log.hold("store", "a", end);
  EXPECT_FALSE(append_sync(log, "a", make_batch("still", 50, storage)));
  log.release("pipeline.slow");
  EXPECT_TRUE(append_sync(log, "a", make_batch("after", 50, storage)));
  // Retention runs before each write: the next one deletes what nobody needs any more.
  EXPECT_TRUE(append_sync(log, "a", make_batch("next", 50, storage)));
  EXPECT_GT(log.stats().segments_deleted, 0u);
  EXPECT_GT(log.partition_log("a")->start_offset(), 0u);
}

TEST(PartitionLog, UnderDropOldestAReaderLearnsHowManyEventsItSkipped) {
  TempDir dir;
  LogConfig config = small_segments();
  config.retention_bytes = 150 * 1024;
  config.retention_policy = "drop_oldest";
  EmbeddedLog log(dir.str(), {"a"}, config);
  log.hold("store", "a", 0);  // ignored under drop_oldest
  fill(log, 150);
  const Offset start = log.partition_log("a")->start_offset();
  ASSERT_GT(start, 0u);
  auto batch = log.read("a", 10, 5);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch.value().skipped, start - 10);
  ASSERT_FALSE(batch.value().records.empty());
  EXPECT_EQ(batch.value().records.front().offset, start);
  auto caught_up = log.read("a", start, 5);
  ASSERT_TRUE(caught_up);
  EXPECT_EQ(caught_up.value().skipped, 0u);
  log.report_skipped("store", "a", 10, batch.value().skipped);
  log.report_skipped("store", "a", 10, 0);
  EXPECT_EQ(log.stats().skipped.at("store"), start - 10);
}

TEST(PartitionLog, RetentionByAgeDeletesOldSegmentsButNeverTheNewest) {
  TempDir dir;
  LogConfig config = small_segments();
  config.retention_age = std::chrono::hours(1);
  EmbeddedLog log(dir.str(), {"a"}, config);
  fill(log, 150);
  const auto* partition = log.partition_log("a");
  const auto segments = partition->segment_count();
  ASSERT_GE(segments, 3u);
  EXPECT_EQ(log.stats().segments_deleted, 0u);  // nothing is an hour old yet
  // Age every segment by two hours; the next write group applies retention.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "a" / "0")) {
    std::filesystem::last_write_time(
        entry.path(), std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  }
  fill(log, 1);
  EXPECT_EQ(partition->segment_count(), 1u);
  EXPECT_EQ(log.stats().segments_deleted, segments - 1);
  EXPECT_FALSE(offsets_from(log, 0).empty());
}

TEST(ConsumerGroups, CommittedOffsetsAreDurableAndPerGroup) {
  TempDir dir;
  {
    EmbeddedLog log(dir.str(), {{"a", 2}}, LogConfig{});
    fill(log, 2);  // 100 events in partition 0
    auto none = log.committed("archive", "a");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none.value().has_value());
    ASSERT_TRUE(log.commit("archive", "a", 40));
    ASSERT_TRUE(log.commit("archive", "a", 60));  // replaces
    ASSERT_TRUE(log.commit("webhook", "a", 100));
    ASSERT_TRUE(log.commit("archive", Partition("a", 1), 0));
    auto past_end = log.commit("archive", "a", 101);
    ASSERT_FALSE(past_end);
    EXPECT_EQ(past_end.error().code, Errc::kInvalidInput);
    auto bad_name = log.commit("../x", "a", 1);
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.error().code, Errc::kInvalidInput);
    EXPECT_FALSE(log.commit("archive", Partition("a", 7), 0));
  }
  EmbeddedLog reopened(dir.str(), {{"a", 2}}, LogConfig{});
  EXPECT_EQ(reopened.committed("archive", "a").value(), std::optional<Offset>(60));
  EXPECT_EQ(reopened.committed("webhook", "a").value(), std::optional<Offset>(100));
  EXPECT_EQ(reopened.committed("archive", Partition("a", 1)).value(), std::optional<Offset>(0));
  EXPECT_FALSE(reopened.committed("other", "a").value().has_value());
}

}  // namespace
}  // namespace sluice::log
