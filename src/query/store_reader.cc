#include "query/store_reader.h"

#include <fmt/format.h>

#include "config/config.h"

namespace sluice::query {

Result<void> StoreReader::query(const Sql& sql, const std::function<bool(const Row&)>& on_row) {
  for (const auto& value : sql.params()) {
    const auto* text = std::get_if<std::string>(&value);
    if (text && text->find('\0') != std::string::npos) {
      return make_error(Errc::kInvalidInput, "a parameter value contains a NUL character");
    }
  }
  return run(sql, on_row);
}

std::unique_ptr<StoreReader> open_store_reader(const Config& config) {
  if (!config.store.url.empty()) {
    return open_postgres_reader(config.store.url, config.store.schema,
                                config.store.read_connections, config.store.query_timeout);
  }
  return open_sqlite_reader(config.store_path(), config.store.read_connections,
                            config.store.query_timeout);
}

std::string query_timeout_message(std::chrono::milliseconds timeout) {
  return fmt::format(
      "the query took longer than {} ms and was stopped (store.query_timeout); "
      "narrow it with stream, type, from and to",
      timeout.count());
}

}  // namespace sluice::query
