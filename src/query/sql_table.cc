#include "query/sql_table.h"

#include <fmt/format.h>

#include "core/json_text.h"

namespace sluice::query {

std::string sql_json(const SqlTable& table, long long elapsed_ms) {
  std::string out = "{\"columns\":[";
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, table.columns[i]);
  }
  out += "],\"rows\":[";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (r > 0) out += ',';
    out += '[';
    const auto& row = table.rows[r];
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      switch (row[c].kind) {
        case SqlCell::Kind::kNull:
          out += "null";
          break;
        case SqlCell::Kind::kNumber:
        case SqlCell::Kind::kBool:
        case SqlCell::Kind::kJson:
          out += row[c].text;
          break;
        case SqlCell::Kind::kText:
          append_json_string(out, row[c].text);
          break;
      }
    }
    out += ']';
  }
  out += fmt::format("],\"truncated\":{},\"elapsed_ms\":{}}}", table.truncated, elapsed_ms);
  return out;
}

namespace {

void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += text;
    return;
  }
  out += '"';
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

std::string sql_csv(const SqlTable& table) {
  std::string out;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (i > 0) out += ',';
    append_csv_field(out, table.columns[i]);
  }
  out += "\r\n";
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      if (row[c].kind != SqlCell::Kind::kNull) append_csv_field(out, row[c].text);
    }
    out += "\r\n";
  }
  return out;
}

std::string_view statement_text(std::string_view sql, std::string_view* rest) {
  // The end of the first statement: the first ';' outside quotes and comments.
  std::size_t i = 0;
  std::size_t end = sql.size();
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const auto close = sql.find(c, i + 1);
      i = close == std::string_view::npos ? sql.size() : close + 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const auto eol = sql.find('\n', i);
      i = eol == std::string_view::npos ? sql.size() : eol + 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const auto close = sql.find("*/", i + 2);
      i = close == std::string_view::npos ? sql.size() : close + 2;
    } else if (c == ';') {
      end = i;
      break;
    } else {
      ++i;
    }
  }
  std::string_view after = sql.substr(std::min(end, sql.size()));
  // What follows may be only semicolons, spaces and comments.
  std::size_t j = 0;
  while (j < after.size()) {
    const char c = after[j];
    if (c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++j;
    } else if (after.substr(j).starts_with("--")) {
      const auto eol = after.find('\n', j);
      j = eol == std::string_view::npos ? after.size() : eol + 1;
    } else if (after.substr(j).starts_with("/*")) {
      const auto close = after.find("*/", j + 2);
      j = close == std::string_view::npos ? after.size() : close + 2;
    } else {
      break;
    }
  }
  if (rest) *rest = after.substr(j);
  return sql.substr(0, end);
}

}  // namespace sluice::query
