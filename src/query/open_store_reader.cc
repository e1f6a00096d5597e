// open_store_reader(): the reader the configuration names. Apart from store_reader.cc so that
// the readers can be built without the configuration (the query fuzzer).
#include "config/config.h"
#include "query/store_reader.h"

namespace sluice::query {

std::unique_ptr<StoreReader> open_store_reader(const Config& config) {
  if (!config.store.url.empty()) {
    return open_postgres_reader(config.store.url, config.store.schema,
                                config.store.read_connections, config.store.query_timeout);
  }
  return open_sqlite_reader(config.store_path(), config.store.read_connections,
                            config.store.query_timeout);
}

}  // namespace sluice::query
