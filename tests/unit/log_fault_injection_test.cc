// Crash simulation for the embedded log: a FileIo that, at a chosen moment, fails every call as a
// power cut would, and afterwards leaves each file as a disk might: everything fsync'd, plus a
// random part of what was written after the last sync (appends past the end and writes into a
// segment's zero reserve alike). Every batch that was acknowledged must
// be readable after reopening; nothing may be read twice; the log must accept appends again.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "log/embedded/embedded_log.h"
#include "test_util.h"

namespace sluice::log {
namespace {

using sluice::testing::append_sync;
using sluice::testing::TempDir;

class CrashingFileIo : public FileIo {
 public:
  void crash() { crashed_ = true; }

  // Call after every file is closed: keeps, of each file, what was synced plus a random prefix
  // of the bytes written after that (in the order they were written). Bytes past the prefix go
  // back to what they were: zeros of a reserve stay zeros, a file that grew is cut back.
  void lose_unsynced(std::mt19937& random) {
    std::lock_guard lock(mutex_);
    for (auto& [path, writes] : unsynced_) {
      std::uint64_t total = 0;
      for (const auto& w : writes)
        total += w.length;
      const std::uint64_t keep = random() % (total + 1);
      std::uint64_t before = total;
      for (auto w = writes.rbegin(); w != writes.rend(); ++w) {
        before -= w->length;
        const std::uint64_t kept = keep > before ? std::min(keep - before, w->length) : 0;
        if (kept == w->length) break;
        // Undo [position + kept, position + length): old bytes inside the old size, the rest
        // never existed.
        std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
        if (kept < w->old.size()) {
          file.seekp(static_cast<std::streamoff>(w->position + kept));
          file.write(w->old.data() + kept, static_cast<std::streamsize>(w->old.size() - kept));
        }
        file.close();
        const auto cut = std::max(w->size_before, w->position + kept);
        if (std::filesystem::file_size(path) > cut) std::filesystem::resize_file(path, cut);
      }
    }
  }

  int open(const std::string& path, int flags, mode_t mode) override {
    if (crashed_) return fail();
    int fd = FileIo::open(path, flags, mode);
    if (fd >= 0 && !std::filesystem::is_directory(path)) {
      std::lock_guard lock(mutex_);
      path_by_fd_[fd] = path;
    }
    return fd;
  }
  ssize_t pwritev(int fd, const iovec* iov, int count, off_t position) override {
    if (crashed_) return fail();
    remember(fd, static_cast<std::uint64_t>(position), iov, count);
    return FileIo::pwritev(fd, iov, count, position);
  }
  ssize_t write(int fd, const void* buffer, std::size_t size) override {
    if (crashed_) return fail();
    return FileIo::write(fd, buffer, size);
  }
  int fdatasync(int fd) override {
    return sync(fd, [&] { return FileIo::fdatasync(fd); });
  }
  int fsync(int fd) override {
    return sync(fd, [&] { return FileIo::fsync(fd); });
  }
  int ftruncate(int fd, off_t size) override {
    if (crashed_) return fail();
    // Only the log's recovery and failed appends cut files here, and a sync follows: modelled
    // as durable at once.
    forget(fd);
    return FileIo::ftruncate(fd, size);
  }

 private:
  struct Write {
    std::uint64_t position;
    std::uint64_t length;
    std::uint64_t size_before;
    std::string old;  // the bytes it overwrote that were inside the file
  };

  static int fail() {
    errno = EIO;
    return -1;
  }

  void remember(int fd, std::uint64_t position, const iovec* iov, int count) {
    std::uint64_t length = 0;
    for (int i = 0; i < count; ++i)
      length += iov[i].iov_len;
    std::uint64_t size = 0;
    if (FileIo::file_size(fd, size) != 0) return;
    Write w{.position = position, .length = length, .size_before = size, .old = {}};
    if (position < size) {
      w.old.resize(static_cast<std::size_t>(std::min(length, size - position)));
      pread_all(*this, fd, w.old.data(), w.old.size(), position);
    }
    std::lock_guard lock(mutex_);
    if (auto it = path_by_fd_.find(fd); it != path_by_fd_.end())
      unsynced_[it->second].push_back(std::move(w));
  }

  void forget(int fd) {
    std::lock_guard lock(mutex_);
    if (auto it = path_by_fd_.find(fd); it != path_by_fd_.end()) unsynced_.erase(it->second);
  }

  template <class Sync>
  int sync(int fd, Sync&& real) {
    if (crashed_) return fail();
    int rc = real();
    if (rc == 0) forget(fd);
    return rc;
  }

  std::atomic<bool> crashed_{false};
  std::mutex mutex_;
  std::map<int, std::string> path_by_fd_;
  std::map<std::string, std::vector<Write>> unsynced_;
};

const LogConfig kConfig{.group_commit_max_bytes = 1 << 20};

const std::vector<StreamSpec> kStreams = {StreamSpec("a", 3), StreamSpec("b")};

std::vector<std::string> all_ids(Log& log, const Partition& partition) {
  std::vector<std::string> ids;
  Offset from = 0;
  for (;;) {
    auto batch = log.read(partition, from, 1000);
    EXPECT_TRUE(batch);
    if (!batch || batch.value().records.empty()) return ids;
    for (const auto& r : batch.value().records) {
      EXPECT_EQ(r.offset, from++);
      ids.emplace_back(decode_event(r.bytes)->id);
    }
  }
}

TEST(LogFaultInjection, EveryAcknowledgedBatchSurvivesACrash) {
  std::mt19937 random(12345);
  for (int trial = 0; trial < 25; ++trial) {
    TempDir dir;
    CrashingFileIo io;
    std::mutex mutex;
    std::map<Partition, std::set<std::string>> acked;  // ids by partition
    const int crash_after = 1 + static_cast<int>(random() % 200);
    {
      // Stream "a" has three partitions: groups span up to four files, synced at once.
      EmbeddedLog log(dir.str(), kStreams, kConfig, io);
      std::atomic<int> batches{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t, seed = random()] {
          std::mt19937 local(static_cast<unsigned>(seed));
          for (int n = 0;; ++n) {
            const Partition partition =
                t % 2 ? Partition("a", static_cast<std::uint32_t>(n % 3)) : Partition("b");
            std::vector<std::string> ids, payloads;
            const int count = 1 + static_cast<int>(local() % 20);
            RecordBatch batch;
            for (int i = 0; i < count; ++i) {
              ids.push_back("t" + std::to_string(t) + "-" + std::to_string(n) + "-" +
                            std::to_string(i));
              payloads.push_back("{\"i\":" + std::to_string(i) + "}");
            }
            for (int i = 0; i < count; ++i) {
              batch.add(
                  EventView{.id = ids[i], .ts_ms = 1, .received_at_ms = 1, .payload = payloads[i]});
            }
            if (!append_sync(log, partition, std::move(batch))) return;  // the "power" is off
            {
              std::lock_guard lock(mutex);
              acked[partition].insert(ids.begin(), ids.end());
            }
            if (++batches == crash_after) io.crash();
          }
        });
      }
      for (auto& thread : threads)
        thread.join();
    }
    io.lose_unsynced(random);

    EmbeddedLog reopened(dir.str(), kStreams, kConfig);
    for (const Partition& partition :
         {Partition("a", 0), Partition("a", 1), Partition("a", 2), Partition("b")}) {
      auto ids = all_ids(reopened, partition);
      std::set<std::string> unique(ids.begin(), ids.end());
      EXPECT_EQ(unique.size(), ids.size()) << "trial " << trial << ": a record read twice";
      for (const auto& id : acked[partition]) {
        ASSERT_TRUE(unique.count(id)) << "trial " << trial << ": acknowledged " << id << " lost";
      }
    }
    std::vector<std::string> storage;
    auto again = append_sync(reopened, "a", sluice::testing::make_batch("after", 3, storage));
    ASSERT_TRUE(again) << "trial " << trial;
    EXPECT_EQ(again.value(), reopened.end_offset("a") - 3);
  }
}

// A disk with room for `limit` bytes of log files: writes past it stop short, then fail with
// ENOSPC.
class FullDiskFileIo : public FileIo {
 public:
  explicit FullDiskFileIo(std::uint64_t limit) : limit_(limit) {}

  ssize_t pwritev(int fd, const iovec* iov, int count, off_t position) override {
    const auto at = static_cast<std::uint64_t>(position);
    if (at >= limit_) {
      errno = ENOSPC;
      return -1;
    }
    std::vector<iovec> fits;
    std::uint64_t room = limit_ - at;
    for (int i = 0; i < count && room > 0; ++i) {
      const auto length = std::min<std::uint64_t>(iov[i].iov_len, room);
      fits.push_back({iov[i].iov_base, static_cast<std::size_t>(length)});
      room -= length;
    }
    return FileIo::pwritev(fd, fits.data(), static_cast<int>(fits.size()), position);
  }

 private:
  std::uint64_t limit_;
};

// The zero reserve is only worth having while there is room: on a disk too full for it, small
// groups are still written (without one), and only a group that does not fit is refused.
TEST(LogFaultInjection, AFullDiskStillTakesWhatFitsWithoutTheReserve) {
  TempDir dir;
  std::vector<std::string> storage;
  FullDiskFileIo io(4096);
  EmbeddedLog log(dir.str(), {"a"}, kConfig, io);
  const auto path = dir.path() / "a" / "0" / PartitionLog::segment_name(0);
  Offset expected = 0;
  for (int i = 0;; ++i) {
    auto r =
        append_sync(log, "a", sluice::testing::make_batch("b" + std::to_string(i), 3, storage));
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kUnavailable);
      EXPECT_THAT(r.error().message, ::testing::HasSubstr("No space left on device"));
      break;
    }
    EXPECT_EQ(r.value(), expected);
    expected += 3;
    EXPECT_EQ(std::filesystem::file_size(path), log.partition_log(Partition("a", 0))->size_bytes());
  }
  // Everything up to the refused group was kept: more than one group, within 4096 bytes.
  EXPECT_GT(expected, 3u);
  const auto kept = log.partition_log(Partition("a", 0))->size_bytes();
  EXPECT_LE(kept, 4096u);
  EXPECT_EQ(std::filesystem::file_size(path), kept);
  EXPECT_EQ(all_ids(log, "a").size(), expected);
}

}  // namespace
}  // namespace sluice::log
