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

Result<SqlTable> StoreReader::read_only_sql(std::string_view sql, std::size_t max_rows) {
  if (sql.size() > kSqlMaxTextBytes) {
    return make_error(Errc::kInvalidInput, fmt::format("sql: the statement is {} bytes; the "
                                                       "limit is {}",
                                                       sql.size(), kSqlMaxTextBytes));
  }
  if (sql.find('\0') != std::string_view::npos) {
    return make_error(Errc::kInvalidInput, "sql: the statement contains a NUL character");
  }
  std::string_view rest;
  const std::string_view statement = statement_text(sql, &rest);
  if (!rest.empty()) {
    return make_error(Errc::kInvalidInput,
                      "sql: one statement at a time (a second one starts after the ';')");
  }
  if (statement.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(Errc::kInvalidInput, "sql: the statement is empty");
  }
  return run_sql(statement, max_rows);
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
