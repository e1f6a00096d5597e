#include "windows/postgres_window_store.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "core/json_write.h"
#include "core/time.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

struct ResultHolder {
  PGresult* result;
  ~ResultHolder() { PQclear(result); }
};

// Several processes may create the tables at once: one at a time.
constexpr const char* kSchema = R"sql(
  SET client_min_messages = warning;
  BEGIN;
  SELECT pg_advisory_xact_lock(hashtext('sluice.window_tables'));
  CREATE TABLE IF NOT EXISTS sluice_window_results (
    window_name text NOT NULL,
    key text NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint NOT NULL,
    events bigint NOT NULL,
    value text NOT NULL,
    final boolean NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (window_name, key, start_ms));
  CREATE INDEX IF NOT EXISTS sluice_window_results_end ON sluice_window_results (window_name, end_ms);
  CREATE TABLE IF NOT EXISTS sluice_window_checkpoints (
    window_name text PRIMARY KEY,
    definition text NOT NULL,
    state text NOT NULL,
    positions text NOT NULL,
    outbox text NOT NULL,
    taken_at bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS sluice_window_partitions (
    window_name text NOT NULL,
    part text NOT NULL,
    definition text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT '',
    next_offset bigint NOT NULL DEFAULT 0,
    epoch bigint NOT NULL DEFAULT 0,
    closed_until bigint,
    idle boolean NOT NULL DEFAULT false,
    open_from bigint,
    taken_at bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (window_name, part));
  CREATE TABLE IF NOT EXISTS sluice_window_partials (
    window_name text NOT NULL,
    part text NOT NULL,
    key text NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint NOT NULL,
    state text NOT NULL,
    PRIMARY KEY (window_name, part, key, start_ms));
  COMMIT;
)sql";

// Every result of a save as one JSON parameter, unpacked by json_to_recordset: one statement
// however many rows, and no escaping of our own.
constexpr const char* kUpsertResults = R"sql(
  INSERT INTO sluice_window_results
    (window_name, key, start_ms, end_ms, events, value, final, updated_at)
  SELECT $1, r.key, r.start_ms, r.end_ms, r.events, r.value, r.final, $3::bigint
  FROM json_to_recordset($2::json)
    AS r(key text, start_ms bigint, end_ms bigint, events bigint, value text, final boolean)
  ON CONFLICT (window_name, key, start_ms) DO UPDATE SET
    end_ms = excluded.end_ms, events = excluded.events, value = excluded.value,
    final = excluded.final, updated_at = excluded.updated_at
)sql";

constexpr const char* kSaveCheckpoint = R"sql(
  INSERT INTO sluice_window_checkpoints
    (window_name, definition, state, positions, outbox, taken_at)
  VALUES ($1, $2, $3, $4, $5, $6::bigint)
  ON CONFLICT (window_name) DO UPDATE SET
    definition = excluded.definition, state = excluded.state, positions = excluded.positions,
    outbox = excluded.outbox, taken_at = excluded.taken_at
)sql";

void add_rows(json::array& rows, const std::vector<WindowResult>& results, bool final) {
  for (const auto& r : results) {
    rows.push_back(json::object{{"key", r.key},
                                {"start_ms", r.start_ms},
                                {"end_ms", r.end_ms},
                                {"events", r.events},
                                {"value", json_text(r.values)},
                                {"final", final}});
  }
}

}  // namespace

PostgresWindowStore::PostgresWindowStore(std::string url) : url_(std::move(url)) {
  if (auto connected = connect(); !connected) throw std::runtime_error(connected.error().message);
}

PostgresWindowStore::~PostgresWindowStore() {
  if (conn_) PQfinish(conn_);
}

Result<void> PostgresWindowStore::connect() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return boost::outcome_v2::success();
  if (conn_) PQfinish(conn_);
  // A server that does not answer is given up on after 10 s unless the URL sets its own
  // connect_timeout (the URL's keywords come later, and win).
  const char* keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"10", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return make_error(Errc::kUnavailable,
                      std::string("window store: PostgreSQL: ") + PQerrorMessage(conn_));
  }
  ResultHolder schema{PQexec(conn_, kSchema)};
  if (PQresultStatus(schema.result) != PGRES_COMMAND_OK) {
    ResultHolder rollback{PQexec(conn_, "ROLLBACK")};
    return make_error(Errc::kUnavailable, std::string("window store: creating the tables: ") +
                                              PQresultErrorMessage(schema.result));
  }
  return boost::outcome_v2::success();
}

Result<void> PostgresWindowStore::exec(const char* sql, const std::vector<std::string>& params,
                                       const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p.c_str());
  ResultHolder result{PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, 0)};
  const auto status = PQresultStatus(result.result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return make_error(Errc::kUnavailable, fmt::format("window store: {}: {}", what,
                                                      PQresultErrorMessage(result.result)));
  }
  return boost::outcome_v2::success();
}

Result<std::optional<Checkpoint>> PostgresWindowStore::load(const std::string& window) {
  if (auto connected = connect(); !connected) return connected.error();
  const char* params[] = {window.c_str()};
  ResultHolder result{PQexecParams(conn_,
                                   "SELECT definition, state, positions, outbox "
                                   "FROM sluice_window_checkpoints WHERE window_name = $1",
                                   1, nullptr, params, nullptr, nullptr, 0)};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
    return make_error(Errc::kUnavailable, std::string("window store: reading a checkpoint: ") +
                                              PQresultErrorMessage(result.result));
  }
  if (PQntuples(result.result) == 0) return std::optional<Checkpoint>{};
  Checkpoint checkpoint{PQgetvalue(result.result, 0, 0),
                        PQgetvalue(result.result, 0, 1),
                        {},
                        PQgetvalue(result.result, 0, 3)};
  auto positions = parse_positions(PQgetvalue(result.result, 0, 2), window);
  if (!positions) return positions.error();
  checkpoint.positions = std::move(positions.value());
  return std::optional<Checkpoint>(std::move(checkpoint));
}

Result<void> PostgresWindowStore::save(const std::string& window,
                                       const std::vector<WindowResult>& final_results,
                                       const std::vector<WindowResult>& early_results,
                                       const Checkpoint& checkpoint) {
  if (auto connected = connect(); !connected) return connected.error();
  if (auto begun = exec("BEGIN", {}, "BEGIN"); !begun) return begun;
  auto fail = [&](Error error) -> Result<void> {
    ResultHolder rollback{PQexec(conn_, "ROLLBACK")};
    return error;
  };
  const std::string now = std::to_string(now_ms());
  if (auto stored = upsert_results(window, final_results, early_results); !stored) {
    return fail(stored.error());
  }
  if (auto saved = exec(kSaveCheckpoint,
                        {window, checkpoint.definition, checkpoint.state,
                         positions_json(checkpoint.positions), checkpoint.outbox, now},
                        "storing a checkpoint");
      !saved) {
    return fail(saved.error());
  }
  if (auto committed = exec("COMMIT", {}, "COMMIT"); !committed) return fail(committed.error());
  return boost::outcome_v2::success();
}

Result<void> PostgresWindowStore::upsert_results(const std::string& window,
                                                 const std::vector<WindowResult>& final_results,
                                                 const std::vector<WindowResult>& early_results) {
  if (final_results.empty() && early_results.empty()) return boost::outcome_v2::success();
  json::array rows;
  add_rows(rows, early_results, false);
  add_rows(rows, final_results, true);
  return exec(kUpsertResults, {window, json::serialize(rows), std::to_string(now_ms())},
              "storing results");
}

Result<void> PostgresWindowStore::forget(const std::string& window) {
  if (auto connected = connect(); !connected) return connected.error();
  if (auto results = exec("DELETE FROM sluice_window_results WHERE window_name = $1", {window},
                          "forgetting results");
      !results) {
    return results;
  }
  return exec("DELETE FROM sluice_window_checkpoints WHERE window_name = $1", {window},
              "forgetting a checkpoint");
}

Result<std::vector<PostgresWindowStore::Row>> PostgresWindowStore::results(
    const std::string& window, const Filter& filter) {
  if (auto connected = connect(); !connected) return connected.error();
  // Every condition is a parameter; an absent one is NULL and holds for every row.
  const std::string sql = fmt::format(
      "SELECT key, start_ms, end_ms, events, value, final FROM sluice_window_results "
      "WHERE window_name = $1 AND ($2::text IS NULL OR key = $2) "
      "AND ($3::bigint IS NULL OR start_ms >= $3) AND ($4::bigint IS NULL OR end_ms <= $4) "
      "AND ($5::boolean IS NULL OR final = $5) "
      "AND ($7::bigint IS NULL OR end_ms {0} $7 OR (end_ms = $7 AND (key > $8::text OR "
      "(key = $8::text AND start_ms {0} $9::bigint)))) "
      "ORDER BY end_ms {1}, key, start_ms {1} LIMIT $6::int",
      filter.ascending ? ">" : "<", filter.ascending ? "ASC" : "DESC");
  const std::string from = filter.from_ms ? std::to_string(*filter.from_ms) : "";
  const std::string to = filter.to_ms ? std::to_string(*filter.to_ms) : "";
  const std::string limit = std::to_string(filter.limit);
  const std::string after_end = filter.after ? std::to_string(filter.after->end_ms) : "";
  const std::string after_start = filter.after ? std::to_string(filter.after->start_ms) : "";
  const char* params[] = {window.c_str(),
                          filter.key ? filter.key->c_str() : nullptr,
                          filter.from_ms ? from.c_str() : nullptr,
                          filter.to_ms ? to.c_str() : nullptr,
                          filter.final ? (*filter.final ? "true" : "false") : nullptr,
                          limit.c_str(),
                          filter.after ? after_end.c_str() : nullptr,
                          filter.after ? filter.after->key.c_str() : nullptr,
                          filter.after ? after_start.c_str() : nullptr};
  ResultHolder result{PQexecParams(conn_, sql.c_str(), 9, nullptr, params, nullptr, nullptr, 0)};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
    return make_error(Errc::kUnavailable, std::string("window store: reading results: ") +
                                              PQresultErrorMessage(result.result));
  }
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(PQntuples(result.result)));
  for (int i = 0; i < PQntuples(result.result); ++i) {
    rows.push_back({PQgetvalue(result.result, i, 0), std::stoll(PQgetvalue(result.result, i, 1)),
                    std::stoll(PQgetvalue(result.result, i, 2)),
                    std::stoll(PQgetvalue(result.result, i, 3)), PQgetvalue(result.result, i, 4),
                    PQgetvalue(result.result, i, 5)[0] == 't'});
  }
  return rows;
}

}  // namespace sluice::windows
