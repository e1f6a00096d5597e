// POST /v1/sql's text handling: where the first statement ends, and the CSV and JSON answers.
#include "query/sql_table.h"

#include <gtest/gtest.h>

namespace sluice::query {
namespace {

std::pair<std::string, std::string> split(std::string_view sql) {
  std::string_view rest;
  const auto statement = statement_text(sql, &rest);
  return {std::string(statement), std::string(rest)};
}

TEST(SqlText, TheFirstStatementEndsAtASemicolonOutsideQuotesAndComments) {
  EXPECT_EQ(split("SELECT 1"), std::make_pair(std::string("SELECT 1"), std::string()));
  EXPECT_EQ(split("SELECT 1;  -- done\n ; /* x */ "),
            std::make_pair(std::string("SELECT 1"), std::string()));
  EXPECT_EQ(
      split("SELECT ';' AS a, \"b;c\" -- ;\n FROM t /* ; */"),
      std::make_pair(std::string("SELECT ';' AS a, \"b;c\" -- ;\n FROM t /* ; */"), std::string()));
  EXPECT_EQ(split("SELECT 1; DELETE FROM events").second, "DELETE FROM events");
  EXPECT_EQ(split("SELECT 1 /* ; */; -- done\n; SELECT 2").second, "SELECT 2");
  // Unterminated quotes and comments run to the end: nothing follows them.
  EXPECT_EQ(split("SELECT 'abc; DELETE").second, "");
  EXPECT_EQ(split("SELECT 1 /* ; DELETE").second, "");
}

TEST(SqlText, CsvQuotesPerRfc4180AndJsonKeepsTypes) {
  SqlTable table{.columns = {"a", "b,c"}, .rows = {}, .truncated = true};
  table.rows.push_back(
      {{SqlCell::Kind::kText, "say \"hi\", then\nleave"}, {SqlCell::Kind::kNull, ""}});
  table.rows.push_back({{SqlCell::Kind::kNumber, "2.5"}, {SqlCell::Kind::kJson, "{\"x\":[1]}"}});
  EXPECT_EQ(sql_csv(table),
            "a,\"b,c\"\r\n\"say \"\"hi\"\", then\nleave\",\r\n2.5,\"{\"\"x\"\":[1]}\"\r\n");
  EXPECT_EQ(sql_json(table, 7),
            "{\"columns\":[\"a\",\"b,c\"],\"rows\":[[\"say \\\"hi\\\", then\\nleave\",null],"
            "[2.5,{\"x\":[1]}]],\"truncated\":true,\"elapsed_ms\":7}");
}

}  // namespace
}  // namespace sluice::query
