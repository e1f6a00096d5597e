#pragma once
// Read-only connections to the SQLite store, shared by the HTTP threads. Each connection keeps
// its prepared statements, so a query shape is compiled once per connection.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sinks/sqlite/sqlite_db.h"

namespace sluice::query {

class StoreReader {
 public:
  struct Connection {
    explicit Connection(const std::string& path) : db(path, /*read_only=*/true) {}
    sqlite::Stmt& statement(const std::string& sql);

    sqlite::Db db;
    std::map<std::string, sqlite::Stmt> statements;
  };

  // Opens `connections` read-only connections; the database must already exist.
  StoreReader(const std::string& path, int connections);

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
      StoreReader* self;
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
