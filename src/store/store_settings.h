#pragma once
// The `store` section: where the store lives (SQLite file or PostgreSQL), its batches and read
// connections.

#include <chrono>
#include <string>

#include "config/table.h"

namespace sluice {

struct StoreConfig {
  std::string url;     // a PostgreSQL URL; empty: the SQLite file at `path`
  std::string schema;  // PostgreSQL: the schema of the store's tables
  std::string path;    // empty: <data_dir>/sluice.db
  int batch_max_events = 0;
  std::chrono::milliseconds batch_max_wait{};
  int read_connections = 0;
  std::chrono::milliseconds query_timeout{};  // a read query running longer is stopped
};

namespace store {

// The `store` section.
const config::Table& store_table();

}  // namespace store
}  // namespace sluice
