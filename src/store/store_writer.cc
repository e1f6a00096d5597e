#include "store/store_writer.h"

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace sluice::store {

std::unique_ptr<StoreWriter> open_store_writer(
    const StoreConfig& store, const std::string& sqlite_path,
    std::map<std::string, std::vector<std::string>> stats_fields) {
  if (!store.url.empty()) {
    return std::make_unique<PostgresStore>(store.url, store.schema, std::move(stats_fields));
  }
  return std::make_unique<sqlite::SqliteStore>(sqlite_path, std::move(stats_fields));
}

}  // namespace sluice::store
