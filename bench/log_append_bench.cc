// Durable append throughput of the embedded log (src/log/embedded/embedded_log.cc) with 1..64
// concurrent appenders, each appending batches of 200-byte events and waiting for durability
// as an HTTP request does, against the raw ceiling measured in the same run on the same disk:
// a plain pwrite + fdatasync loop writing the same bytes per sync. Then 64 appenders of single
// events spread over 8 partitions against the same on 1 partition: a group commit that spans
// several partition files syncs each of them, and the ratio shows what that costs.
//
// usage: bench_log_append DIR [SECONDS_PER_RUN] [EVENTS_PER_BATCH]

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "log/embedded/embedded_log.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double events_per_s;
  double mb_per_s;
  double bytes_per_sync;
};

sluice::log::RecordBatch make_batch(int events, std::vector<std::string>& storage) {
  sluice::log::RecordBatch batch;
  storage.clear();
  storage.reserve(static_cast<std::size_t>(events) * 2);
  for (int i = 0; i < events; ++i) {
    storage.push_back("0199dd55-9f3b-7a1c-8d2e-" + std::to_string(100000000000 + i));
    const std::string& id = storage.back();
    // 200 bytes of payload, the size the targets are stated for.
    std::string payload = R"({"event_type":"CLICK","page_path":"/shop","n":)" + std::to_string(i);
    payload += ",\"pad\":\"" + std::string(200 - payload.size() - 10, 'x') + "\"}";
    storage.push_back(payload);
    batch.add(sluice::EventView{.id = id,
                                .ts_ms = 1760355000000,
                                .received_at_ms = 1760355000000,
                                .key = std::nullopt,
                                .type = "CLICK",
                                .payload = storage.back()});
  }
  return batch;
}

Figures run_log(const std::string& dir, int appenders, int batch_events, double seconds,
                std::uint32_t partitions = 1) {
  std::filesystem::remove_all(dir);
  sluice::log::EmbeddedLog log(dir, {sluice::log::StreamSpec("bench", partitions)},
                               sluice::LogConfig{.group_commit_max_bytes = 8 << 20});
  std::vector<std::string> storage;
  const sluice::log::RecordBatch prototype = make_batch(batch_events, storage);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> events{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint32_t n = static_cast<std::uint32_t>(t); !stop.load(std::memory_order_relaxed);
           ++n) {
        std::promise<bool> done;
        auto future = done.get_future();
        log.append(
            sluice::log::Partition("bench", n % partitions), prototype,
            [&done](sluice::Result<sluice::log::Offset> r) { done.set_value(r.has_value()); });
        if (!future.get()) std::abort();
        events.fetch_add(static_cast<std::uint64_t>(batch_events), std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads)
    t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto stats = log.stats();
  log.close();
  std::filesystem::remove_all(dir);
  ::sync();  // leave no writeback behind for the next measurement
  return Figures{events.load() / elapsed, stats.bytes / elapsed / 1e6,
                 static_cast<double>(stats.bytes) / static_cast<double>(stats.syncs)};
}

// The ceiling: one thread appending `bytes_per_sync` bytes and syncing, as fast as it can.
double raw_mb_per_s(const std::string& dir, std::size_t bytes_per_sync, double seconds) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/raw";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  std::string chunk(bytes_per_sync, 'r');
  std::uint64_t written = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) std::abort();
    if (::fdatasync(fd) != 0) std::abort();
    written += chunk.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
  ::sync();
  return written / elapsed / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [SECONDS_PER_RUN] [EVENTS_PER_BATCH]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const double seconds = argc > 2 ? std::stod(argv[2]) : 3.0;
  const int batch_events = argc > 3 ? std::stoi(argv[3]) : 100;
  std::printf("%-10s %12s %10s %14s %14s %8s\n", "appenders", "events/s", "MB/s", "bytes/sync",
              "raw MB/s", "ratio");
  for (int appenders : {1, 4, 16, 64}) {
    Figures log = run_log(dir + "/log", appenders, batch_events, seconds);
    // The disk's speed drifts over seconds: measure the ceiling right after, and once more
    // after a second log run, and compare the means.
    const auto bytes = static_cast<std::size_t>(log.bytes_per_sync);
    const double raw1 = raw_mb_per_s(dir + "/raw", bytes, seconds / 2);
    const Figures log2 = run_log(dir + "/log", appenders, batch_events, seconds / 2);
    const double raw2 = raw_mb_per_s(dir + "/raw", bytes, seconds / 2);
    const double raw = (raw1 + raw2) / 2;
    log.events_per_s = (log.events_per_s + log2.events_per_s) / 2;
    log.mb_per_s = (log.mb_per_s + log2.mb_per_s) / 2;
    std::printf("%-10d %12.0f %10.1f %14.0f %14.1f %8.2f\n", appenders, log.events_per_s,
                log.mb_per_s, log.bytes_per_sync, raw, log.mb_per_s / raw);
    std::fflush(stdout);
  }
  // Single events from 64 appenders, on 1 partition and spread over 8; runs alternate.
  double one = 0, eight = 0;
  for (int round = 0; round < 2; ++round) {
    one += run_log(dir + "/log", 64, 1, seconds / 2, 1).events_per_s / 2;
    eight += run_log(dir + "/log", 64, 1, seconds / 2, 8).events_per_s / 2;
  }
  std::printf(
      "\nsingle events, 64 appenders: 1 partition %.0f events/s, 8 partitions %.0f "
      "events/s, ratio %.2f\n",
      one, eight, eight / one);
  std::filesystem::remove_all(dir);
  return 0;
}
