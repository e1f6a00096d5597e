#pragma once
// The `log` section: the durable log's backend, group commit, segments and retention, declared
// with their defaults and documentation.

#include <chrono>
#include <cstdint>
#include <string>

#include "config/table.h"

namespace sluice {

struct KafkaConfig {
  std::string brokers;
  std::string topic_prefix;
  std::chrono::milliseconds delivery_timeout{};
  std::chrono::milliseconds linger{1};
  std::uint64_t max_in_flight_bytes = 0;
  int replication_factor = 0;
  std::string compression = "lz4";
  bool consumer_groups = true;
  std::string group_prefix;
  std::chrono::milliseconds session_timeout{10'000};
};

struct LogConfig {
  std::string backend = "embedded";
  KafkaConfig kafka;
  std::uint64_t group_commit_max_bytes = 8 << 20;
  std::chrono::milliseconds group_commit_max_wait{0};
  std::uint64_t segment_bytes = 128 << 20;
  std::uint64_t retention_bytes = 0;           // per partition; 0: keep everything
  std::chrono::milliseconds retention_age{0};  // 0: keep everything
  std::string retention_policy = "protect";    // or "drop_oldest"
};

namespace log {

// The `log` section.
const config::Table& log_table();

}  // namespace log
}  // namespace sluice
