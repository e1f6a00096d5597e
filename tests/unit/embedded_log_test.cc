#include "log/embedded/embedded_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
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

TEST(EmbeddedLog, OneDataDirectoryServesOneLog) {
  TempDir dir;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    try {
      EmbeddedLog second(dir.str(), {"a"}, kConfig);
      FAIL() << "a second log opened the same directory";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("in use by another sluice process (pid " +
                                                 std::to_string(getpid()) + ")"));
    }
  }
  EmbeddedLog after_close(dir.str(), {"a"}, kConfig);  // released with the first
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

// The first segment of stream "a", partition 0.
std::filesystem::path log_file(const TempDir& dir) {
  return dir.path() / "a" / "0" / PartitionLog::segment_name(0);
}

// Bytes of frames in stream "a", partition 0 (the file may hold a zero reserve after them).
std::uint64_t data_bytes(const EmbeddedLog& log) {
  return log.partition_log(Partition("a", 0))->size_bytes();
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes two frames (3 events, then 2) to stream "a" in `dir`; returns the frames' bytes (the
// file without its reserve) and the size of the first frame.
std::string write_two_frames(const TempDir& dir, std::uintmax_t& first_frame_end) {
  std::vector<std::string> storage;
  std::uint64_t end = 0;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    EXPECT_TRUE(append_sync(log, "a", make_batch("x", 3, storage)));
    first_frame_end = data_bytes(log);
    EXPECT_TRUE(append_sync(log, "a", make_batch("y", 2, storage)));
    end = data_bytes(log);
  }
  return file_bytes(log_file(dir)).substr(0, end);
}

void overwrite(const TempDir& dir, std::string_view bytes) {
  std::ofstream out(log_file(dir), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Small groups leave a zero-filled reserve after the last frame and are written into it, so the
// file keeps its size; reopening takes the zeros for what they are.
TEST(EmbeddedLog, SmallGroupsAreWrittenIntoAZeroReserve) {
  TempDir dir;
  std::vector<std::string> storage;
  std::uint64_t data = 0;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    ASSERT_TRUE(append_sync(log, "a", make_batch("x", 3, storage)));
    const auto size = std::filesystem::file_size(log_file(dir));
    EXPECT_EQ(size, data_bytes(log) + LogFile::kReserveBytes);
    ASSERT_TRUE(append_sync(log, "a", make_batch("y", 2, storage)));
    EXPECT_EQ(std::filesystem::file_size(log_file(dir)), size);
    data = data_bytes(log);
    const std::string bytes = file_bytes(log_file(dir));
    EXPECT_EQ(bytes.find_first_not_of('\0', data), std::string::npos);
  }
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  EXPECT_EQ(data_bytes(log), data);
  EXPECT_EQ(log.end_offset("a"), 5u);
  EXPECT_EQ(log.stats().corrupt_regions, 0u);
  auto ids = read_ids(log, "a");
  EXPECT_EQ(ids, (std::vector<std::string>{"x-0", "x-1", "x-2", "y-0", "y-1"}));
  auto next = append_sync(log, "a", make_batch("z", 1, storage));
  ASSERT_TRUE(next);
  EXPECT_EQ(next.value(), 5u);
  EXPECT_EQ(read_ids(log, "a").back(), "z-0");
}

// Counts pwritev calls (each one is a group commit) and the bytes they write.
class CountingFileIo : public FileIo {
 public:
  ssize_t pwritev(int fd, const iovec* iov, int count, off_t position) override {
    ++writes;
    const ssize_t n = FileIo::pwritev(fd, iov, count, position);
    if (n > 0) written += static_cast<std::uint64_t>(n);
    return n;
  }
  std::atomic<int> writes{0};
  std::atomic<std::uint64_t> written{0};
};

// The reserve is zeroed once: appends into it write their frames and nothing more.
TEST(EmbeddedLog, AppendsIntoTheReserveWriteOnlyTheirFrames) {
  TempDir dir;
  std::vector<std::string> storage;
  CountingFileIo io;
  EmbeddedLog log(dir.str(), {"a"}, kConfig, io);
  ASSERT_TRUE(append_sync(log, "a", make_batch("x", 3, storage)));
  EXPECT_EQ(io.written.load(), data_bytes(log) + LogFile::kReserveBytes);
  for (int i = 0; i < 20; ++i) {
    const auto before_bytes = data_bytes(log);
    const auto before_written = io.written.load();
    ASSERT_TRUE(append_sync(log, "a", make_batch("y" + std::to_string(i), 2, storage)));
    EXPECT_EQ(io.written.load() - before_written, data_bytes(log) - before_bytes) << i;
  }
}

// A group over LogFile::kReserveGroupBytes is written as it is: zeroing a reserve for it would
// double the bytes written.
TEST(EmbeddedLog, LargeGroupsLeaveNoReserve) {
  TempDir dir;
  std::vector<std::string> storage;
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  ASSERT_TRUE(append_sync(log, "a", make_batch("x", 5000, storage)));
  ASSERT_GT(data_bytes(log), LogFile::kReserveGroupBytes);
  EXPECT_EQ(std::filesystem::file_size(log_file(dir)), data_bytes(log));
}

// A segment that is done takes no more appends: its reserve is cut off, and the newest
// segment's reserve stops where that segment will be rolled.
TEST(EmbeddedLog, RolledSegmentsLoseTheirReserve) {
  TempDir dir;
  std::vector<std::string> storage;
  LogConfig config = kConfig;
  config.segment_bytes = 4096;
  EmbeddedLog log(dir.str(), {"a"}, config);
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(append_sync(log, "a", make_batch("b" + std::to_string(i), 3, storage)));
  const auto* partition = log.partition_log(Partition("a", 0));
  ASSERT_GT(partition->segment_count(), 2u);
  std::uint64_t total = 0;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(log_file(dir).parent_path())) {
    if (entry.path().extension() == ".log") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto size = std::filesystem::file_size(files[i]);
    if (i + 1 < files.size()) {
      total += size;
      EXPECT_GE(size, 4096u) << files[i];
      EXPECT_EQ(file_bytes(files[i]).back(), '}') << files[i] << " ends in its last payload";
    } else {
      EXPECT_LE(size, std::max<std::uint64_t>(4096, partition->size_bytes() - total));
    }
  }
  EXPECT_EQ(read_ids(log, "a").size(), 180u);
}

// A crash can leave any prefix of the last frame on disk, followed by the reserve's zeros or by
// nothing. Whatever the cut, reopening keeps every complete frame, drops the partial one (its
// bytes are saved beside the log, without the zeros) and accepts new appends after it.
TEST(EmbeddedLog, TornTailIsCutAtEveryByte) {
  TempDir dir;
  std::vector<std::string> storage;
  std::uintmax_t good_size;
  const std::string original = write_two_frames(dir, good_size);
  for (auto cut = good_size; cut < original.size(); ++cut) {
    for (const bool reserve : {false, true}) {
      std::string torn = original.substr(0, cut);
      if (reserve) torn.resize(original.size() + 4096, '\0');
      overwrite(dir, torn);
      const auto saved = (log_file(dir).string() + ".cut-" + std::to_string(good_size));
      std::filesystem::remove(saved);
      EmbeddedLog log(dir.str(), {"a"}, kConfig);
      EXPECT_EQ(log.end_offset("a"), 3u) << cut;
      // Zeros right after the last frame are a reserve, and stay.
      EXPECT_EQ(std::filesystem::file_size(log_file(dir)),
                reserve && cut == good_size ? torn.size() : good_size)
          << cut;
      // The cut bytes are kept beside the log, up to the last one that is not zero.
      const auto last = original.substr(good_size, cut - good_size).find_last_not_of('\0');
      if (cut > good_size) {
        ASSERT_TRUE(std::filesystem::exists(saved)) << cut;
        EXPECT_EQ(std::filesystem::file_size(saved), last + 1) << cut;
      } else {
        EXPECT_FALSE(std::filesystem::exists(saved)) << cut;
      }
      auto again = append_sync(log, "a", make_batch("z", 1, storage));
      ASSERT_TRUE(again);
      EXPECT_EQ(again.value(), 3u);
    }
  }
}

// A flipped bit anywhere is detected. In the last frame it looks like a torn write and the frame
// is cut off; anywhere else the damaged frame is skipped, counted, and every other record stays
// readable at its own offset.
TEST(EmbeddedLog, BitFlipsAnywhereAreDetected) {
  TempDir dir;
  const std::vector<int> sizes = {3, 2, 4, 1, 3};
  std::vector<std::uintmax_t> frame_end;
  std::vector<std::vector<std::string>> frame_ids;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    std::vector<std::string> storage;
    for (std::size_t f = 0; f < sizes.size(); ++f) {
      const std::string prefix = "f" + std::to_string(f);
      ASSERT_TRUE(append_sync(log, "a", make_batch(prefix, sizes[f], storage)));
      frame_end.push_back(data_bytes(log));
      frame_ids.emplace_back();
      for (int i = 0; i < sizes[f]; ++i)
        frame_ids.back().push_back(prefix + "-" + std::to_string(i));
    }
  }
  const std::string original = file_bytes(log_file(dir)).substr(0, frame_end.back());
  for (std::size_t byte = 0; byte < original.size(); ++byte) {
    std::string flipped = original;
    flipped[byte] = static_cast<char>(flipped[byte] ^ 0x04);
    overwrite(dir, flipped);
    std::filesystem::remove((log_file(dir).string() + ".cut-" + std::to_string(frame_end[3])));
    const std::size_t damaged = static_cast<std::size_t>(
        std::upper_bound(frame_end.begin(), frame_end.end(), byte) - frame_end.begin());
    const bool last = damaged == sizes.size() - 1;

    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    std::vector<std::string> expected;
    for (std::size_t f = 0; f < sizes.size(); ++f) {
      if (f != damaged) expected.insert(expected.end(), frame_ids[f].begin(), frame_ids[f].end());
    }
    // Offsets are kept: read from the start, record by record.
    std::vector<std::string> got;
    Offset from = 0;
    for (;;) {
      auto batch = log.read("a", from, 2);
      ASSERT_TRUE(batch) << byte << ": " << batch.error().message;
      if (batch.value().records.empty()) break;
      for (const auto& r : batch.value().records)
        got.emplace_back(decode_event(r.bytes)->id);
      from = batch.value().next_offset;
    }
    ASSERT_EQ(got, expected) << "byte " << byte << " (frame " << damaged << ")";
    EXPECT_EQ(log.stats().corrupt_regions, last ? 0u : 1u) << byte;
    EXPECT_EQ(log.end_offset("a"), last ? 10u : 13u) << byte;
  }
}

TEST(EmbeddedLog, ReadsSkipOverACorruptFrameAndAppendsContinue) {
  TempDir dir;
  std::uintmax_t first_frame_end;
  std::string original = write_two_frames(dir, first_frame_end);  // offsets 0-2, 3-4
  std::vector<std::string> storage;
  {
    EmbeddedLog log(dir.str(), {"a"}, kConfig);
    ASSERT_TRUE(append_sync(log, "a", make_batch("z", 2, storage)));  // offsets 5-6
  }
  original = file_bytes(log_file(dir));
  original[first_frame_end + 40] ^= 0x01;  // inside the second frame's body
  overwrite(dir, original);
  EmbeddedLog log(dir.str(), {"a"}, kConfig);
  auto from_gap = log.read("a", 3, 10);  // offsets 3 and 4 are lost
  ASSERT_TRUE(from_gap);
  ASSERT_EQ(from_gap.value().records.size(), 2u);
  EXPECT_EQ(from_gap.value().records[0].offset, 5u);
  auto next = append_sync(log, "a", make_batch("n", 1, storage));
  ASSERT_TRUE(next);
  EXPECT_EQ(next.value(), 7u);
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

// With a wait configured, the writer holds the first request until the group is full (or the
// wait is over), so concurrent requests share one write; a full group is written at once.
TEST(EmbeddedLog, GroupCommitWaitGathersRequestsUpToTheByteLimit) {
  TempDir dir;
  std::vector<std::string> storage;
  RecordBatch probe = make_batch("t0", 10, storage);
  probe.seal();
  LogConfig config;
  config.group_commit_max_bytes = probe.frame().size() * 5;
  config.group_commit_max_wait = std::chrono::seconds(1000);  // far longer than the test may take
  CountingFileIo io;
  EmbeddedLog log(dir.str(), {"a"}, config, io);
  std::vector<std::thread> threads;
  for (int t = 0; t < 5; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> own;
      EXPECT_TRUE(append_sync(log, "a", make_batch("t" + std::to_string(t), 10, own)));
    });
  }
  for (auto& thread : threads)
    thread.join();  // returns only because the group filled up
  EXPECT_EQ(io.writes.load(), 1);
  EXPECT_EQ(log.end_offset("a"), 50u);
}

// Holds the writer in one sync while appends to other partitions queue, then counts how many of
// the next group's syncs are in flight together: each waits (up to 10 s) for the others.
class GatedSyncIo : public FileIo {
 public:
  int fdatasync(int fd) override {
    {
      std::unique_lock lock(mutex_);
      if (hold_next_) {
        hold_next_ = false;
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !held_; });
      } else if (rendezvous_ > 0) {
        ++in_flight_;
        ++arrived_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
        cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(10), [&] { return arrived_ >= rendezvous_; });
        lock.unlock();
        const int r = FileIo::fdatasync(fd);
        lock.lock();
        --in_flight_;
        return r;
      }
    }
    return FileIo::fdatasync(fd);
  }
  void hold_next_sync() {
    std::lock_guard lock(mutex_);
    hold_next_ = true;
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return held_; });
  }
  // The syncs after the held one wait for each other, `count` at a time.
  void release(int count) {
    std::lock_guard lock(mutex_);
    rendezvous_ = count;
    held_ = false;
    cv_.notify_all();
  }
  int max_in_flight() {
    std::lock_guard lock(mutex_);
    return max_in_flight_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool hold_next_ = false, held_ = false;
  int rendezvous_ = 0, arrived_ = 0, in_flight_ = 0, max_in_flight_ = 0;
};

// A group that spans several partitions writes and syncs their files at once, not one after
// another.
TEST(EmbeddedLog, AGroupSyncsItsPartitionFilesAtOnce) {
  TempDir dir;
  GatedSyncIo io;
  EmbeddedLog log(dir.str(), {StreamSpec("a", 4)}, kConfig, io);
  std::vector<std::string> storage;
  std::vector<std::future<Result<Offset>>> answers;
  auto append = [&](std::uint32_t partition) {
    auto done = std::make_shared<std::promise<Result<Offset>>>();
    answers.push_back(done->get_future());
    log.append(Partition("a", partition), make_batch("p" + std::to_string(partition), 2, storage),
               [done](Result<Offset> r) { done->set_value(std::move(r)); });
  };
  io.hold_next_sync();
  append(0);
  io.wait_until_held();  // the writer is inside partition 0's sync
  append(1);
  append(2);
  append(3);
  io.release(3);
  for (auto& answer : answers) {
    auto r = answer.get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), 0u);
  }
  EXPECT_EQ(io.max_in_flight(), 3);
  for (std::uint32_t p = 0; p < 4; ++p)
    EXPECT_EQ(log.end_offset(Partition("a", p)), 2u) << p;
}

}  // namespace
}  // namespace sluice::log
