#include "store/sqlite_db.h"

#include <stdexcept>

namespace sluice::sqlite {
namespace {

// SQLite counts every allocation under one process-wide mutex unless told not to (perf showed
// the lock and unlock at ~15 % of the store writer's CPU). Nothing here reads those counts.
// sqlite3_config works only before SQLite's first use: every connection is opened by Db, so the
// first Db does it.
void turn_memory_status_off() noexcept {
  static const int done = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)done;
}

}  // namespace

Fault fault_of(int code) {
  switch (code & 0xff) {
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
      return Fault::kData;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
      return Fault::kPermanent;
    default:
      return Fault::kTransient;
  }
}

Stmt::Stmt(sqlite3* db, std::string_view sql) {
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("SQL error: ") + sqlite3_errmsg(db) +
                             " in: " + std::string(sql));
  }
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

void Stmt::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

void Stmt::bind_double(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
}

void Stmt::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}

void Stmt::bind(int index, const std::optional<std::string_view>& value) {
  if (value) {
    bind(index, *value);
  } else {
    bind_null(index);
  }
}

void Stmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
}

int Stmt::step() {
  return sqlite3_step(stmt_);
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string_view Stmt::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  return text ? std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
              : std::string_view();
}

bool Stmt::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Db::Db(const std::string& path, bool read_only) {
  turn_memory_status_off();
  int flags = SQLITE_OPEN_NOMUTEX |
              (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

void Db::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("SQL error: " + message);
  }
}

Result<void> Db::try_exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return make_error(Errc::kUnavailable, "SQLite: " + message);
  }
  return boost::outcome_v2::success();
}

}  // namespace sluice::sqlite
