#pragma once
// file: events as NDJSON files in a directory, a new file when the current one reaches
// rotate_bytes or rotate_every; optionally gzip (each batch one gzip member, so a file is
// readable with zcat at any moment). A batch is delivered once written and fdatasync'd.
// At-least-once: after a crash, the batch being written may appear twice.
//
// Files are named <prefix>-<UTC start time>-<n>.ndjson[.gz] and never renamed or rewritten.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class FileSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string dir;
    std::string prefix;
    std::uint64_t rotate_bytes = 0;
    std::chrono::milliseconds rotate_every{};
    bool gzip = false;
    bool payload_only = false;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  FileSink(Settings settings, std::string dir, std::string prefix);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  Result<void> open_next();
  void close_current();

  Settings settings_;
  std::string dir_;
  std::string prefix_;
  int fd_ = -1;
  std::string current_path_;
  std::uint64_t current_bytes_ = 0;
  std::chrono::steady_clock::time_point opened_at_;
  std::uint64_t sequence_ = 0;
};

}  // namespace sluice::sinks
