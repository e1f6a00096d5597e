#include "store/pg_connection.h"

#include <fmt/format.h>

namespace sluice::pg {
namespace {

// libpq's messages span lines ("…failed: Connection refused\n\tIs the server running…"): one
// line for the log and the API's errors.
std::string one_line(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n' || c == '\t' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

bool plain_identifier(std::string_view name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

void Connection::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Result<void> Connection::connect() {
  if (connected()) return boost::outcome_v2::success();
  if (conn_) PQfinish(conn_);
  // A server that does not answer (a host that drops packets) is given up on after 10 s unless
  // the URL sets its own connect_timeout: keywords later in the list win, and the URL's come
  // after this one.
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    return make_error(Errc::kUnavailable, "PostgreSQL store: " + message);
  }
  // Notices ("already exists, skipping") would go to standard error.
  if (auto quiet = exec("SET client_min_messages TO warning", "settings"); !quiet) return quiet;
  if (statement_timeout_ms_ > 0) {
    if (auto limited =
            exec(fmt::format("SET statement_timeout = {}", statement_timeout_ms_), "settings");
        !limited) {
      return limited;
    }
  }
  return exec(fmt::format("SET search_path TO {}", schema_), "search_path");
}

Fault fault_of(std::string_view sqlstate) {
  if (sqlstate.starts_with("22") || sqlstate.starts_with("23") || sqlstate == "54000") {
    return Fault::kData;
  }
  if (sqlstate.starts_with("28") || sqlstate == "42501") return Fault::kPermanent;
  return Fault::kTransient;
}

Error Connection::failure(PGresult* result, std::string_view what) {
  const std::string message =
      one_line(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const Fault fault = fault_of(state ? state : "");
  return make_error(fault == Fault::kData ? Errc::kInvalidInput : Errc::kUnavailable,
                    fmt::format("PostgreSQL store {}: {}", what, message), fault);
}

Result<ResultPtr> Connection::exec(const std::string& sql,
                                   const std::vector<std::optional<std::string>>& params,
                                   std::string_view what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p ? p->c_str() : nullptr);
  ResultPtr result{PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0)};
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(result.get(), what);
  return result;
}

Result<void> Connection::exec(const std::string& sql, std::string_view what) {
  ResultPtr result{PQexec(conn_, sql.c_str())};
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(result.get(), what);
  return boost::outcome_v2::success();
}

Result<void> Connection::copy(const std::string& sql, std::string_view data,
                              std::string_view what) {
  ResultPtr started{PQexec(conn_, sql.c_str())};
  if (PQresultStatus(started.get()) != PGRES_COPY_IN) return failure(started.get(), what);
  const bool sent =
      data.empty() || PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) == 1;
  if (PQputCopyEnd(conn_, sent ? nullptr : "sending failed") != 1) return failure(nullptr, what);
  ResultPtr copied{PQgetResult(conn_)};
  while (PGresult* more = PQgetResult(conn_))
    PQclear(more);
  if (PQresultStatus(copied.get()) != PGRES_COMMAND_OK) return failure(copied.get(), what);
  return boost::outcome_v2::success();
}

}  // namespace sluice::pg
