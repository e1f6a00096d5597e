// POST /v1/sql: one read-only statement over the store, answered as JSON or CSV
// (docs/http-api.md). The statement runs on a read connection of the store's own pool, under
// store.query_timeout, with a row cap.

#include <fmt/format.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <chrono>

#include "query/read_routes.h"

namespace sluice::query {
namespace {

constexpr std::size_t kDefaultRows = 1000;

struct SqlRequest {
  std::string sql;
  std::size_t max_rows = kDefaultRows;
  bool csv = false;
};

Result<std::size_t> max_rows_of(std::string_view text) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > kSqlMaxRows) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("max_rows: must be a whole number from 1 to {}", kSqlMaxRows));
  }
  return value;
}

// The body is {"sql": "...", "max_rows": N} or the statement itself; ?max_rows= and
// ?format=csv (or Accept: text/csv) say the rest.
Result<SqlRequest> read_request(const http::Request& req, const http::Call& call) {
  SqlRequest out;
  const std::string_view body = req.body();
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '{') {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    const auto* object = ec ? nullptr : parsed.if_object();
    const auto* sql = object ? object->if_contains("sql") : nullptr;
    if (!sql || !sql->is_string()) {
      return make_error(Errc::kInvalidInput,
                        "the body is {\"sql\": \"SELECT …\", \"max_rows\": N} or the statement "
                        "itself; \"sql\" must be a string");
    }
    out.sql = sql->get_string();
    if (const auto* rows = object->if_contains("max_rows")) {
      if (!rows->is_int64()) {
        return make_error(
            Errc::kInvalidInput,
            fmt::format("max_rows: must be a whole number from 1 to {}", kSqlMaxRows));
      }
      auto value = max_rows_of(std::to_string(rows->get_int64()));
      if (!value) return value.error();
      out.max_rows = value.value();
    }
  } else {
    out.sql = body;
  }
  for (const auto& param : call.url.params()) {
    if (param.key == "max_rows") {
      auto value = max_rows_of(param.value);
      if (!value) return value.error();
      out.max_rows = value.value();
    } else if (param.key == "format") {
      if (param.value != "csv" && param.value != "json") {
        return make_error(Errc::kInvalidInput, "format: must be json or csv");
      }
      out.csv = param.value == "csv";
    }
  }
  const auto accept = req[boost::beast::http::field::accept];
  if (std::string_view(accept.data(), accept.size()).find("text/csv") != std::string_view::npos) {
    out.csv = true;
  }
  return out;
}

}  // namespace

http::Task<http::Reply> ReadRoutes::sql(http::Request& req, const http::Call& call) {
  auto request = read_request(req, call);
  if (!request) co_return http::error_answer(req, request.error());
  const SqlRequest& asked = request.value();
  const auto started = std::chrono::steady_clock::now();
  auto table = co_await store_work_.run(
      [&] { return parts_.reader->read_only_sql(asked.sql, asked.max_rows); });
  if (!table) co_return http::error_answer(req, table.error());
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (asked.csv) {
    auto reply = http::answer(req, 200, sql_csv(table.value()));
    reply.content_type = "text/csv; charset=utf-8";
    if (table.value().truncated) reply.set("X-Sluice-Truncated", "true");
    co_return reply;
  }
  co_return http::answer(req, 200, sql_json(table.value(), elapsed.count()));
}

}  // namespace sluice::query
