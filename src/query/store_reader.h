#pragma once
// The query API's read connections to the store: the embedded SQLite file or a PostgreSQL
// database. Queries are built in the store's dialect (query/sql.h); a pool of connections is
// shared by the HTTP threads, each waiting for a free one when all are busy.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "query/sql.h"
#include "query/sql_table.h"

namespace sluice {
struct Config;
}

namespace sluice::query {

class StoreReader {
 public:
  virtual ~StoreReader() = default;
  virtual Dialect dialect() const = 0;
  Sql sql() const { return Sql(dialect()); }

  // Runs `sql` and calls `on_row` for each row until it returns false. Errors: kInvalidInput
  // for a text parameter holding a NUL character (PostgreSQL text cannot hold one, so neither
  // store takes it), kUnavailable naming the store's error.
  Result<void> query(const Sql& sql, const std::function<bool(const Row&)>& on_row);

  // One statement as a person wrote it (POST /v1/sql), run so that it can only read: at most
  // `max_rows` rows (`truncated` says there were more). kInvalidInput: empty, too long, more
  // than one statement, not a reading statement, or refused by the store (its message);
  // kUnavailable: the store cannot be reached, or the statement ran past store.query_timeout.
  Result<SqlTable> read_only_sql(std::string_view sql, std::size_t max_rows);

 private:
  virtual Result<void> run(const Sql& sql, const std::function<bool(const Row&)>& on_row) = 0;
  virtual Result<SqlTable> run_sql(std::string_view statement, std::size_t max_rows) = 0;
};

// Read-only connections to an existing SQLite store. A query that runs longer than `timeout`
// (0: no limit) is stopped and answered kUnavailable naming store.query_timeout.
std::unique_ptr<StoreReader> open_sqlite_reader(
    const std::string& path, int connections,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
// Connections to a PostgreSQL store (made on first use, and again after a lost connection);
// `schema` holds the store's tables. `timeout` as above (the server's statement_timeout).
std::unique_ptr<StoreReader> open_postgres_reader(
    const std::string& url, const std::string& schema, int connections,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
// The message of a query stopped by store.query_timeout.
std::string query_timeout_message(std::chrono::milliseconds timeout);
// The store the configuration names (store.url, else the SQLite file).
std::unique_ptr<StoreReader> open_store_reader(const Config& config);
// A read of the store through `reader`'s own connections: empty when the events table is
// there and readable, else why not (for the readiness check).
std::string read_error(StoreReader& reader);

// Connections handed to one caller at a time.
template <class Connection>
class ConnectionPool {
 public:
  void add(std::unique_ptr<Connection> connection) { free_.push_back(std::move(connection)); }

  // Runs `f(Connection&)` on a free connection, waiting for one if all are busy.
  template <class F>
  auto with_connection(F&& f) {
    std::unique_ptr<Connection> connection;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !free_.empty(); });
      connection = std::move(free_.back());
      free_.pop_back();
    }
    struct GiveBack {
      ConnectionPool* self;
      std::unique_ptr<Connection>& connection;
      ~GiveBack() {
        {
          std::lock_guard lock(self->mutex_);
          self->free_.push_back(std::move(connection));
        }
        self->cv_.notify_one();
      }
    } give_back{this, connection};
    return f(*connection);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;
};

}  // namespace sluice::query
