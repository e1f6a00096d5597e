#pragma once
// Helpers shared by the unit tests.

#include <filesystem>
#include <future>
#include <random>
#include <string>

#include "log/log.h"

namespace sluice::testing {

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("sluice-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::filesystem::path path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Appends and waits for durability; returns the first offset or the error.
inline Result<log::Offset> append_sync(log::Log& log, const log::Partition& stream,
                                       log::RecordBatch batch) {
  std::promise<Result<log::Offset>> done;
  auto future = done.get_future();
  log.append(stream, std::move(batch),
             [&done](Result<log::Offset> r) { done.set_value(std::move(r)); });
  return future.get();
}

// A batch of `count` events with ids "<prefix>-<i>" and payloads {"n":i}.
inline log::RecordBatch make_batch(const std::string& prefix, int count,
                                   std::vector<std::string>& storage) {
  log::RecordBatch batch;
  storage.clear();
  storage.reserve(static_cast<std::size_t>(count) * 2);
  for (int i = 0; i < count; ++i) {
    storage.push_back(prefix + "-" + std::to_string(i));
    const std::string& id = storage.back();
    storage.push_back("{\"n\":" + std::to_string(i) + "}");
    batch.add(EventView{.id = id,
                        .ts_ms = 1000 + i,
                        .received_at_ms = 2000,
                        .key = std::nullopt,
                        .type = "t",
                        .payload = storage.back()});
  }
  return batch;
}

}  // namespace sluice::testing
