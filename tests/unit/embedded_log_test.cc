#include "log/embedded/embedded_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "test_util.h"

namespace sluice::log {
namespace {

using sluice::testing::append_sync;
using sluice::testing::make_batch;
using sluice::testing::TempDir;

const LogConfig kConfig{.group_commit_max_bytes = 8 << 20};

std::vector<std::string> read_ids(Log& log, const std::string& stream, Offset from = 0) {
  std::vector<std::string> ids;
  for (;;) {
    auto batch = log.read(stream, from, 7);  // small reads cross frame boundaries
    EXPECT_TRUE(batch) << batch.error().message;
    if (batch.value().records.empty()) break;
    for (const auto& r : batch.value().records) {
      EXPECT_EQ(r.offset, from + (&r - batch.value().records.data()));
      auto event = decode_event(r.bytes);
      EXPECT_TRUE(event);
      ids.emplace_back(event->id);
    }
    from = batch.value().next_offset;
  }
  return ids;
}

TEST(EmbeddedLog, AppendsAndReadsBackInOrderAcrossReopen) {
  TempDir dir;
  std::vector<std::string> storage;
  {
    EmbeddedLog log(dir.str(), {"a", "b"}, kConfig);
    auto first = append_sync(log, "a", make_batch("x", 10, storage));
    ASSERT_TRUE(first);
    EXPECT_EQ(first.value(), 0u);
    auto second = append_sync(log, "a", make_batch("y", 5, storage));
    ASSERT_TRUE(second);
    EXPECT_EQ(second.value(), 10u);
    EXPECT_EQ(log.end_offset("a"), 15u);
    EXPECT_EQ(log.end_offset("b"), 0u);
  }
  EmbeddedLog reopened(dir.str(), {"a", "b"}, kConfig);
  auto ids = read_ids(reopened, "a");
  ASSERT_EQ(ids.size(), 15u);
  EXPECT_EQ(ids.front(), "x-0");
  EXPECT_EQ(ids[10], "y-0");
  EXPECT_EQ(read_ids(reopened, "a", 12).size(), 3u);
  EXPECT_TRUE(read_ids(reopened, "b").empty());
  auto next = append_sync(reopened, "a", make_batch("z", 1, storage));
  ASSERT_TRUE(next);
  EXPECT_EQ(next.value(), 15u);
}

TEST(EmbeddedLog, UnknownStreamIsNotFound) {
  TempDir dir;
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  std::vector<std::string> storage;
  auto r = append_sync(log, "nope", make_batch("x", 1, storage));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_FALSE(log.read("nope", 0, 1));
}

// Writes two frames (3 events, then 2) to stream "a" in `dir`; returns the file's bytes and the
// size after the first frame.
std::string write_two_frames(const TempDir& dir, std::uintmax_t& first_frame_end) {
  std::vector<std::string> storage;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    EXPECT_TRUE(append_sync(log, "a", make_batch("x", 3, storage)));
    first_frame_end = std::filesystem::file_size(dir.path() / "a.log");
    EXPECT_TRUE(append_sync(log, "a", make_batch("y", 2, storage)));
  }
  std::ifstream in(dir.path() / "a.log", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void overwrite(const TempDir& dir, std::string_view bytes) {
  std::ofstream out(dir.path() / "a.log", std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A crash can leave any prefix of the last frame on disk. Whatever the cut, reopening keeps
// every complete frame, drops the partial one and accepts new appends after it.
TEST(EmbeddedLog, TornTailIsCutAtEveryByte) {
  TempDir dir;
  std::vector<std::string> storage;
  std::uintmax_t good_size;
  const std::string original = write_two_frames(dir, good_size);
  for (auto cut = good_size; cut < original.size(); ++cut) {
    overwrite(dir, std::string_view(original).substr(0, cut));
    const auto saved = dir.path() / ("a.log.cut-" + std::to_string(good_size));
    std::filesystem::remove(saved);
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    EXPECT_EQ(log.end_offset("a"), 3u) << cut;
    EXPECT_EQ(std::filesystem::file_size(dir.path() / "a.log"), good_size) << cut;
    // The cut bytes are kept beside the log.
    if (cut > good_size) {
      ASSERT_TRUE(std::filesystem::exists(saved)) << cut;
      EXPECT_EQ(std::filesystem::file_size(saved), cut - good_size) << cut;
    } else {
      EXPECT_FALSE(std::filesystem::exists(saved)) << cut;
    }
    auto again = append_sync(log, "a", make_batch("z", 1, storage));
    ASSERT_TRUE(again);
    EXPECT_EQ(again.value(), 3u);
  }
}

TEST(EmbeddedLog, BitFlipInTheLastFrameIsDetected) {
  TempDir dir;
  std::uintmax_t good_size;
  const std::string original = write_two_frames(dir, good_size);
  for (auto byte = good_size; byte < original.size(); ++byte) {
    std::string flipped = original;
    flipped[byte] = static_cast<char>(flipped[byte] ^ 0x10);
    overwrite(dir, flipped);
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    EXPECT_EQ(log.end_offset("a"), 3u) << byte;
    EXPECT_EQ(read_ids(log, "a").size(), 3u) << byte;
  }
}

TEST(EmbeddedLog, ConcurrentAppendersGetDistinctOffsetsAndNothingIsLost) {
  TempDir dir;
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  constexpr int kThreads = 8, kBatches = 50, kPerBatch = 20;
  std::mutex mutex;
  std::set<Offset> firsts;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> storage;
      for (int b = 0; b < kBatches; ++b) {
        auto r = append_sync(
            log, "a",
            make_batch("t" + std::to_string(t) + "b" + std::to_string(b), kPerBatch, storage));
        ASSERT_TRUE(r);
        std::lock_guard lock(mutex);
        firsts.insert(r.value());
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(firsts.size(), static_cast<std::size_t>(kThreads * kBatches));
  for (Offset f : firsts)
    EXPECT_EQ(f % kPerBatch, 0u);
  auto ids = read_ids(log, "a");
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kBatches * kPerBatch));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

TEST(EmbeddedLog, AppendsAfterCloseAreRefused) {
  TempDir dir;
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  log.close();
  std::vector<std::string> storage;
  auto r = append_sync(log, "a", make_batch("x", 1, storage));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
}

}  // namespace
}  // namespace sluice::log
