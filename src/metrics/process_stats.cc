#include "metrics/process_stats.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::metrics {
namespace {

// Seconds since the epoch at which the machine booted (/proc/stat's btime).
std::optional<double> boot_time() {
  std::ifstream in("/proc/stat");
  std::string word;
  while (in >> word) {
    if (word == "btime") {
      double value = 0;
      if (in >> value) return value;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted from
  // after its closing parenthesis, where field 3 (state) begins.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest),
                                  std::istream_iterator<std::string>()};
  // fields[0] is field 3 of proc(5): field N is fields[N - 3].
  auto field = [&](std::size_t n) { return std::stod(fields.at(n - 3)); };
  if (fields.size() < 22) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats stats;
  stats.cpu_seconds = (field(14) + field(15)) / ticks;
  stats.threads = static_cast<std::uint64_t>(field(20));
  stats.virtual_bytes = static_cast<std::uint64_t>(field(23));
  stats.resident_bytes = static_cast<std::uint64_t>(field(24) * page);
  if (auto boot = boot_time()) stats.start_time_seconds = *boot + field(22) / ticks;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++stats.open_fds;
  }
  return stats;
}

void collect_disk(Families& f, const std::string& data_dir) {
  struct statvfs fs {};
  if (data_dir.empty() || statvfs(data_dir.c_str(), &fs) != 0) return;
  const Labels dir = {{"dir", data_dir}};
  f.gauge("sluice_data_dir_free_bytes",
          "Space left for the log and the store on storage.data_dir's file system (for "
          "unprivileged users).",
          dir, static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
  f.gauge("sluice_data_dir_size_bytes", "Size of storage.data_dir's file system.", dir,
          static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize));
}

void collect_process(Families& f) {
  f.gauge("sluice_build_info", "Always 1; the labels say which Sluice this is.",
          {{"version", SLUICE_VERSION}}, 1);
  const auto stats = read_process_stats();
  if (!stats) return;
  f.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", {},
            stats->cpu_seconds);
  f.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
          as_double(stats->resident_bytes));
  f.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
          as_double(stats->virtual_bytes));
  f.gauge("process_open_fds", "Open file descriptors (connections included).", {},
          as_double(stats->open_fds));
  f.gauge("process_threads", "Threads of the process.", {}, as_double(stats->threads));
  f.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.", {},
          stats->start_time_seconds);
}

}  // namespace sluice::metrics
