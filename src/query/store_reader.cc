#include "query/store_reader.h"

#include <fmt/format.h>

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

std::string query_timeout_message(std::chrono::milliseconds timeout) {
  return fmt::format(
      "the query took longer than {} ms and was stopped (store.query_timeout); "
      "narrow it with stream, type, from and to",
      timeout.count());
}

std::string read_error(StoreReader& reader) {
  auto sql = reader.sql();
  sql += "SELECT 1 FROM events LIMIT 1";
  auto read = reader.query(sql, [](const Row&) { return false; });
  return read ? std::string() : "the store cannot be read: " + read.error().message;
}

}  // namespace sluice::query
