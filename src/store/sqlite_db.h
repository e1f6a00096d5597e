#pragma once
// A thin RAII layer over the SQLite C API: a connection and prepared statements with typed
// binds. One Db is used by one thread at a time.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::sqlite {

// Whether a statement that failed with SQLite's (primary) result `code` can pass when tried
// again: a value too big or of the wrong kind, or a constraint, fails every time (kData); a
// read-only, unopenable or corrupt database until someone fixes it (kPermanent); busy, locked,
// I/O and full-disk errors may pass (kTransient). The store and the sqlite sink both decide by it.
Fault fault_of(int code);

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql);  // throws std::runtime_error on a SQL error
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  void bind(int index, std::int64_t value);
  void bind(int index, std::string_view value);  // the text must outlive step()
  void bind(int index, const std::optional<std::string_view>& value);
  void bind_null(int index);
  void bind_double(int index, double value);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  void reset();

  std::int64_t column_int(int index) const;
  std::string_view column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens `path`; read_only connections never write. Throws std::runtime_error on failure.
  Db(const std::string& path, bool read_only);
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs statements that return no rows; throws on error (start-up use).
  void exec(const std::string& sql);
  // As exec, but returns the error (event-path use).
  Result<void> try_exec(const char* sql);
  Stmt prepare(std::string_view sql) { return Stmt(db_, sql); }
  std::string error_message() const { return sqlite3_errmsg(db_); }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace sluice::sqlite
