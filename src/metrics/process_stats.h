#pragma once
// This process's CPU time, memory, threads and open files, read from /proc/self at scrape time
// (the names and meanings of the Prometheus client libraries' process_* metrics).

#include <cstdint>
#include <optional>
#include <string>

#include "metrics/families.h"

namespace sluice::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t threads = 0;
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// nullopt where /proc cannot be read.
std::optional<ProcessStats> read_process_stats();

// sluice_build_info and the process_* metrics.
void collect_process(Families& families);
// The free and total space of the file system that holds `data_dir` (storage.data_dir).
void collect_disk(Families& families, const std::string& data_dir);

}  // namespace sluice::metrics
