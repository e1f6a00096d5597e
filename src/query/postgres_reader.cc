// StoreReader over PostgreSQL connections. Parameters go as text and the server infers their
// types from where they stand; each connection reconnects on the next query after a lost one.

#include <fmt/format.h>

#include <charconv>

#include "query/store_reader.h"
#include "store/pg_connection.h"
#include "store/postgres_store.h"

namespace sluice::query {
namespace {

class ResultRow : public Row {
 public:
  ResultRow(PGresult* result, int row) : result_(result), row_(row) {}
  bool is_null(int column) const override { return PQgetisnull(result_, row_, column) != 0; }
  std::int64_t integer(int column) const override {
    const char* text = PQgetvalue(result_, row_, column);
    std::int64_t value = 0;
    std::from_chars(text, text + PQgetlength(result_, row_, column), value);
    return value;
  }
  std::string_view text(int column) const override {
    return {PQgetvalue(result_, row_, column),
            static_cast<std::size_t>(PQgetlength(result_, row_, column))};
  }

 private:
  PGresult* result_;
  int row_;
};

// PostgreSQL type OIDs (pg_type.dat) whose text is a JSON number, boolean or JSON value.
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kJson = 114, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700, kJsonb = 3802;

SqlCell cell_of(PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return {};
  std::string text(PQgetvalue(result, row, column),
                   static_cast<std::size_t>(PQgetlength(result, row, column)));
  switch (PQftype(result, column)) {
    case kBool:
      return {.kind = SqlCell::Kind::kBool, .text = text == "t" ? "true" : "false"};
    case kInt8:
    case kInt2:
    case kInt4:
    case kOid:
      return {.kind = SqlCell::Kind::kNumber, .text = std::move(text)};
    case kFloat4:
    case kFloat8:
    case kNumeric: {
      // NaN and Infinity have no JSON number.
      const bool finite = text.find_first_of("NI") == std::string::npos;
      return {.kind = finite ? SqlCell::Kind::kNumber : SqlCell::Kind::kText,
              .text = std::move(text)};
    }
    case kJson:
    case kJsonb:
      return {.kind = SqlCell::Kind::kJson, .text = std::move(text)};
    default:
      return {.kind = SqlCell::Kind::kText, .text = std::move(text)};
  }
}

// The store's answer to a person's statement: the statement's own mistakes (syntax, no such
// table, not allowed) are theirs (400); a lost connection, a timeout or a server fault is not.
Error sql_failure(PGresult* result, PGconn* conn, std::chrono::milliseconds timeout) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state ? state : "";
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  if (code == "57014" && timeout.count() > 0) {
    return make_error(Errc::kUnavailable, query_timeout_message(timeout));
  }
  if (code.empty() || code.starts_with("08") || code.starts_with("53") || code.starts_with("57") ||
      code.starts_with("58") || code.starts_with("XX")) {
    return make_error(Errc::kUnavailable, "store query failed: " + message);
  }
  if (code == "25006" || code == "42501") {
    return make_error(Errc::kInvalidInput,
                      "sql: only statements that read are run, with read access: " + message);
  }
  return make_error(Errc::kInvalidInput, "sql: " + message);
}

class PostgresReader : public StoreReader {
 public:
  PostgresReader(const std::string& url, const std::string& schema, int connections,
                 std::chrono::milliseconds timeout)
      : timeout_(timeout) {
    for (int i = 0; i < connections; ++i)
      pool_.add(std::make_unique<pg::Connection>(url, schema, timeout.count()));
  }
  Dialect dialect() const override { return Dialect::kPostgres; }

 private:
  Result<void> run(const Sql& sql, const std::function<bool(const Row&)>& on_row) override {
    std::vector<std::optional<std::string>> params;
    params.reserve(sql.params().size());
    for (const auto& value : sql.params()) {
      std::visit(
          [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::monostate>) {
              params.emplace_back(std::nullopt);
            } else if constexpr (std::is_same_v<V, std::string>) {
              params.emplace_back(v);
            } else {
              params.emplace_back(fmt::format("{}", v));  // shortest text that reads back exactly
            }
          },
          value);
    }
    return pool_.with_connection([&](pg::Connection& connection) -> Result<void> {
      if (auto connected = store::connect_store(connection); !connected) {
        return make_error(Errc::kUnavailable, "store query failed: " + connected.error().message);
      }
      auto result = connection.exec(sql.text(), params, "query");
      if (!result) {
        if (timeout_.count() > 0 &&
            result.error().message.find("statement timeout") != std::string::npos) {
          return make_error(Errc::kUnavailable, query_timeout_message(timeout_));
        }
        return make_error(Errc::kUnavailable, "store query failed: " + result.error().message);
      }
      PGresult* rows = result.value().get();
      for (int i = 0, n = PQntuples(rows); i < n; ++i) {
        if (!on_row(ResultRow(rows, i))) break;
      }
      return boost::outcome_v2::success();
    });
  }

  // In a read-only transaction, as a cursor (which takes only SELECT, WITH … SELECT, VALUES
  // and TABLE), fetching one row more than asked. Never on a superuser's connection.
  Result<SqlTable> run_sql(std::string_view statement, std::size_t max_rows) override {
    return pool_.with_connection([&](pg::Connection& connection) -> Result<SqlTable> {
      if (auto connected = store::connect_store(connection); !connected) {
        return make_error(Errc::kUnavailable, "store query failed: " + connected.error().message);
      }
      PGconn* conn = connection.get();
      // One statement per call: PQexecParams refuses a second one hidden in the text.
      auto exec = [conn](const std::string& text) {
        return pg::ResultPtr(
            PQexecParams(conn, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
      };
      // A superuser's statement can change its own role back and read server files, whatever
      // the transaction says: such a connection runs no one's SQL.
      const char* superuser = PQparameterStatus(conn, "is_superuser");
      if (superuser && std::string_view(superuser) == "on") {
        return make_error(Errc::kForbidden,
                          "sql: the store's PostgreSQL user (store.url) is a superuser, so "
                          "POST /v1/sql is refused; connect the store as a user without "
                          "superuser rights (docs/http-api.md)");
      }
      auto begun = exec("BEGIN READ ONLY");
      if (PQresultStatus(begun.get()) != PGRES_COMMAND_OK) {
        return sql_failure(begun.get(), conn, timeout_);
      }
      struct Rollback {
        PGconn* conn;
        ~Rollback() { PQclear(PQexec(conn, "ROLLBACK")); }
      } rollback{conn};
      auto declared = exec("DECLARE sluice_sql NO SCROLL CURSOR FOR " + std::string(statement));
      if (PQresultStatus(declared.get()) != PGRES_COMMAND_OK) {
        return sql_failure(declared.get(), conn, timeout_);
      }
      auto rows = exec(fmt::format("FETCH FORWARD {} FROM sluice_sql", max_rows + 1));
      if (PQresultStatus(rows.get()) != PGRES_TUPLES_OK) {
        return sql_failure(rows.get(), conn, timeout_);
      }
      SqlTable table;
      PGresult* result = rows.get();
      const int columns = PQnfields(result);
      for (int c = 0; c < columns; ++c)
        table.columns.emplace_back(PQfname(result, c));
      const auto count = static_cast<std::size_t>(PQntuples(result));
      table.truncated = count > max_rows;
      for (std::size_t r = 0; r < std::min(count, max_rows); ++r) {
        auto& row = table.rows.emplace_back();
        row.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c)
          row.push_back(cell_of(result, static_cast<int>(r), c));
      }
      return table;
    });
  }

  ConnectionPool<pg::Connection> pool_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<StoreReader> open_postgres_reader(const std::string& url, const std::string& schema,
                                                  int connections,
                                                  std::chrono::milliseconds timeout) {
  return std::make_unique<PostgresReader>(url, schema, connections, timeout);
}

}  // namespace sluice::query
