#pragma once
// One named spdlog logger per module ("http", "log", "processor", …), all writing to stderr
// with the same pattern. Messages use key=value fields so they can be grepped and parsed.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace sluice {

// Returns the module's logger, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

// Sets the level of every logger ("trace", "debug", "info", "warn", "error", "off").
void set_log_level(const std::string& level);

}  // namespace sluice
