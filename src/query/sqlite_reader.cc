// StoreReader over read-only SQLite connections, each keeping its most recent prepared
// statements so a query shape is compiled once per connection. A query running longer than the
// timeout is interrupted through SQLite's progress handler.

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <list>
#include <memory>
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

// What a person's statement may do (POST /v1/sql), decided as SQLite compiles it: read tables
// and call functions, and the pragmas that describe the schema. No writes, no ATTACH (which
// SQLite counts as reading), no pragma that changes anything.
int only_reads(void*, int action, const char* first, const char* second, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_PRAGMA: {
      const std::string_view name = first ? first : "";
      const bool describes = name == "table_info" || name == "table_xinfo" ||
                             name == "table_list" || name == "index_list" || name == "index_info" ||
                             name == "index_xinfo";
      return describes && second != nullptr ? SQLITE_OK : SQLITE_DENY;
    }
    default:
      return SQLITE_DENY;
  }
}

SqlCell cell_of(sqlite3_stmt* stmt, int column) {
  const int type = sqlite3_column_type(stmt, column);
  if (type == SQLITE_NULL) return {};
  if (type == SQLITE_BLOB) {
    const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, column));
    std::string hex = "x'";
    for (int i = 0, n = sqlite3_column_bytes(stmt, column); i < n; ++i)
      hex += fmt::format("{:02x}", bytes[i]);
    return {.kind = SqlCell::Kind::kText, .text = hex + "'"};
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  std::string value(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
  if (type == SQLITE_INTEGER) return {.kind = SqlCell::Kind::kNumber, .text = std::move(value)};
  if (type == SQLITE_FLOAT) {
    const double number = sqlite3_column_double(stmt, column);
    if (std::isfinite(number)) return {.kind = SqlCell::Kind::kNumber, .text = std::move(value)};
  }
  return {.kind = SqlCell::Kind::kText, .text = std::move(value)};
}

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

  Result<SqlTable> run_sql(std::string_view statement, std::size_t max_rows) override {
    return pool_.with_connection([&](Connection& connection) -> Result<SqlTable> {
      sqlite3* db = connection.db.handle();
      sqlite3_stmt* raw = nullptr;
      sqlite3_set_authorizer(db, only_reads, nullptr);
      const int prepared = sqlite3_prepare_v2(db, statement.data(),
                                              static_cast<int>(statement.size()), &raw, nullptr);
      sqlite3_set_authorizer(db, nullptr, nullptr);
      const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
      if (prepared != SQLITE_OK) {
        const std::string message = sqlite3_errmsg(db);
        if (prepared == SQLITE_AUTH) {
          return make_error(Errc::kInvalidInput,
                            "sql: only statements that read are run (SELECT, WITH … SELECT, "
                            "VALUES, PRAGMA table_info(…)): " +
                                message);
        }
        return make_error(Errc::kInvalidInput, "sql: " + message);
      }
      if (!stmt) return make_error(Errc::kInvalidInput, "sql: the statement is empty");
      if (!sqlite3_stmt_readonly(stmt.get())) {
        return make_error(Errc::kInvalidInput, "sql: only statements that read are run");
      }
      SqlTable table;
      const int columns = sqlite3_column_count(stmt.get());
      for (int c = 0; c < columns; ++c) {
        const char* name = sqlite3_column_name(stmt.get(), c);
        table.columns.emplace_back(name ? name : "");
      }
      if (timeout_.count() > 0) connection.deadline = std::chrono::steady_clock::now() + timeout_;
      int rc;
      while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        if (table.rows.size() == max_rows) {
          table.truncated = true;
          break;
        }
        auto& row = table.rows.emplace_back();
        row.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c)
          row.push_back(cell_of(stmt.get(), c));
      }
      connection.deadline.reset();
      if (rc == SQLITE_INTERRUPT) {
        return make_error(Errc::kUnavailable, query_timeout_message(timeout_));
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return make_error(Errc::kInvalidInput, std::string("sql: ") + sqlite3_errmsg(db));
      }
      return table;
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
