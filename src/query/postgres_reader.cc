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
