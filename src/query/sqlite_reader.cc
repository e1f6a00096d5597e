// StoreReader over read-only SQLite connections, each keeping its most recent prepared
// statements so a query shape is compiled once per connection. A query running longer than the
// timeout is interrupted through SQLite's progress handler.

#include <chrono>
#include <list>
#include <unordered_map>

#include "query/store_reader.h"
#include "store/sqlite_db.h"

namespace sluice::query {
namespace {

// Query texts differ with the fields a request names (`where=`, `group_by=`): a cache of every
// text ever seen would grow without bound. The least recently used statements are dropped.
constexpr std::size_t kStatementsPerConnection = 64;

struct Connection {
  explicit Connection(const std::string& path) : db(path, /*read_only=*/true) {
    // Called every 1000 virtual-machine steps: the query stops once past its deadline.
    sqlite3_progress_handler(
        db.handle(), 1000,
        [](void* self) -> int {
          const auto& deadline = static_cast<Connection*>(self)->deadline;
          return deadline && std::chrono::steady_clock::now() > *deadline ? 1 : 0;
        },
        this);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite::Stmt& statement(const std::string& sql) {
    auto it = by_text.find(sql);
    if (it != by_text.end()) {
      recent.splice(recent.begin(), recent, it->second);
    } else {
      recent.emplace_front(sql, db.prepare(sql));
      by_text.emplace(sql, recent.begin());
      if (recent.size() > kStatementsPerConnection) {
        by_text.erase(recent.back().first);
        recent.pop_back();
      }
    }
    sqlite::Stmt& stmt = recent.front().second;
    stmt.reset();
    return stmt;
  }

  sqlite::Db db;
  std::list<std::pair<std::string, sqlite::Stmt>> recent;  // most recently used first
  std::unordered_map<std::string, std::list<std::pair<std::string, sqlite::Stmt>>::iterator>
      by_text;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // of the query running
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
  SqliteReader(const std::string& path, int connections, std::chrono::milliseconds timeout)
      : timeout_(timeout) {
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
      if (timeout_.count() > 0) connection.deadline = std::chrono::steady_clock::now() + timeout_;
      while ((rc = stmt->step()) == SQLITE_ROW) {
        if (!on_row(row)) break;
      }
      connection.deadline.reset();
      const bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
      const std::string message = failed ? connection.db.error_message() : std::string();
      stmt->reset();
      if (rc == SQLITE_INTERRUPT)
        return make_error(Errc::kUnavailable, query_timeout_message(timeout_));
      if (failed) return make_error(Errc::kUnavailable, "store query failed: " + message);
      return boost::outcome_v2::success();
    });
  }

  ConnectionPool<Connection> pool_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<StoreReader> open_sqlite_reader(const std::string& path, int connections,
                                                std::chrono::milliseconds timeout) {
  return std::make_unique<SqliteReader>(path, connections, timeout);
}

}  // namespace sluice::query
