#pragma once
// What POST /v1/sql answers: the rows of one read-only statement over the store, with their
// column names, as JSON or CSV. Both stores fill the same table (StoreReader::read_only_sql).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::query {

struct SqlCell {
  enum class Kind { kNull, kNumber, kBool, kText, kJson };
  Kind kind = Kind::kNull;
  std::string text;  // kNumber: a JSON number; kBool: "true"/"false"; kJson: JSON text
};

struct SqlTable {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlCell>> rows;
  bool truncated = false;  // there were more rows than asked for
};

// The most rows one statement may return, and the longest statement.
inline constexpr std::size_t kSqlMaxRows = 10'000;
inline constexpr std::size_t kSqlMaxTextBytes = 65'536;

// {"columns":[..],"rows":[[..],..],"truncated":false,"elapsed_ms":N}
std::string sql_json(const SqlTable& table, long long elapsed_ms);
// RFC 4180: a header line of the column names, then one line per row; NULL is empty, text is
// quoted when it holds a comma, a quote or a line break.
std::string sql_csv(const SqlTable& table);

// The statement without the spaces, comments and semicolons after it; empty when nothing else
// follows. `rest` gets what follows when it is more than that (a second statement).
std::string_view statement_text(std::string_view sql, std::string_view* rest);

}  // namespace sluice::query
