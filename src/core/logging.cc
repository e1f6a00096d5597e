#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace sluice {

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (auto existing = spdlog::get(module)) return existing;
  auto created = spdlog::stderr_color_mt(module);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc);
  return created;
}

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace sluice
