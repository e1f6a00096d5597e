#pragma once
// A PostgreSQL connection for the store: made on first use and again after it is lost, with
// the store's schema as its search path, so the same SQL runs on SQLite and PostgreSQL.

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sluice::pg {

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// A schema name the store accepts: lower-case letters, digits and _, not starting with a digit,
// at most 63 characters (so it never needs quoting).
bool plain_identifier(std::string_view name);

// Whether a statement that failed with `sqlstate` can pass when tried again. Data exceptions
// (class 22: a byte sequence, a value out of range, JSON it cannot read), integrity violations
// (class 23) and program limits (54000: a value too large) are about the rows sent: kData.
// Failed authorisation (class 28, 42501): kPermanent until someone grants it. Anything else (a
// lost connection, a lock, a full disk, a server shutting down): kTransient. The store and the
// postgres sink both decide by it.
Fault fault_of(std::string_view sqlstate);

class Connection {
 public:
  // `statement_timeout_ms` > 0: the server cancels any statement that runs longer.
  Connection(std::string url, std::string schema, std::int64_t statement_timeout_ms = 0)
      : url_(std::move(url)),
        schema_(std::move(schema)),
        statement_timeout_ms_(statement_timeout_ms) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects if not connected, with the schema as search path (it need not exist yet);
  // kUnavailable with the server's message otherwise.
  Result<void> connect();
  void disconnect();
  const std::string& schema() const { return schema_; }
  PGconn* get() { return conn_; }
  bool connected() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

  // Runs a statement with text parameters (nullopt: NULL); kUnavailable naming `what` and the
  // server's message when it fails.
  Result<ResultPtr> exec(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params,
                         std::string_view what);
  Result<void> exec(const std::string& sql, std::string_view what);
  // COPY … FROM STDIN with `data` in the format the statement names.
  Result<void> copy(const std::string& sql, std::string_view data, std::string_view what);

 private:
  Error failure(PGresult* result, std::string_view what);

  std::string url_;
  std::string schema_;
  std::int64_t statement_timeout_ms_ = 0;
  PGconn* conn_ = nullptr;
};

}  // namespace sluice::pg
