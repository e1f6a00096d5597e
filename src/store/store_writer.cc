#include "store/store_writer.h"

#include "config/config.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace sluice::store {

std::unique_ptr<StoreWriter> open_store_writer(const Config& config) {
  std::map<std::string, std::vector<std::string>> stats_fields;
  for (const auto& [name, stream] : config.streams)
    stats_fields[name] = stream.stats_fields;
  if (!config.store.url.empty()) {
    return std::make_unique<PostgresStore>(config.store.url, config.store.schema,
                                           std::move(stats_fields));
  }
  return std::make_unique<sqlite::SqliteStore>(config.store_path(), std::move(stats_fields));
}

}  // namespace sluice::store
