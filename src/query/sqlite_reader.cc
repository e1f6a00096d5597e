// StoreReader over read-only SQLite connections, each keeping its prepared statements so a
// query shape is compiled once per connection.

#include <map>

#include "query/store_reader.h"
#include "sinks/sqlite/sqlite_db.h"

namespace sluice::query {
namespace {

struct Connection {
  explicit Connection(const std::string& path) : db(path, /*read_only=*/true) {}

  sqlite::Stmt& statement(const std::string& sql) {
    auto it = statements.find(sql);
    if (it == statements.end()) it = statements.emplace(sql, db.prepare(sql)).first;
    it->second.reset();
    return it->second;
  }

  sqlite::Db db;
  std::map<std::string, sqlite::Stmt> statements;
};

class StmtRow : public Row {
 public:
  explicit StmtRow(sqlite::Stmt& stmt) : stmt_(stmt) {}
  bool is_null(int column) const override { return stmt_.column_is_null(column); }
  std::int64_t integer(int column) const override { return stmt_.column_int(column); }
  std::string_view text(int column) const override { return stmt_.column_text(column); }

 private:
  sqlite::Stmt& stmt_;
};

class SqliteReader : public StoreReader {
 public:
  SqliteReader(const std::string& path, int connections) {
    for (int i = 0; i < connections; ++i)
      pool_.add(std::make_unique<Connection>(path));
  }
  Dialect dialect() const override { return Dialect::kSqlite; }

 private:
  Result<void> run(const Sql& sql, const std::function<bool(const Row&)>& on_row) override {
    return pool_.with_connection([&](Connection& connection) -> Result<void> {
      sqlite::Stmt* stmt = nullptr;
      try {
        stmt = &connection.statement(sql.text());
      } catch (const std::exception& e) {
        return make_error(Errc::kUnavailable, std::string("store query failed: ") + e.what());
      }
      const auto& params = sql.params();
      for (std::size_t i = 0; i < params.size(); ++i) {
        const int at = static_cast<int>(i + 1);
        std::visit(
            [&](const auto& v) {
              using V = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<V, std::monostate>) {
                stmt->bind_null(at);
              } else if constexpr (std::is_same_v<V, double>) {
                stmt->bind_double(at, v);
              } else if constexpr (std::is_same_v<V, std::int64_t>) {
                stmt->bind(at, v);
              } else {
                stmt->bind(at, std::string_view(v));
              }
            },
            params[i]);
      }
      StmtRow row(*stmt);
      int rc;
      while ((rc = stmt->step()) == SQLITE_ROW) {
        if (!on_row(row)) break;
      }
      const bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
      const std::string message = failed ? connection.db.error_message() : std::string();
      stmt->reset();
      if (failed) return make_error(Errc::kUnavailable, "store query failed: " + message);
      return boost::outcome_v2::success();
    });
  }

  ConnectionPool<Connection> pool_;
};

}  // namespace

std::unique_ptr<StoreReader> open_sqlite_reader(const std::string& path, int connections) {
  return std::make_unique<SqliteReader>(path, connections);
}

}  // namespace sluice::query
