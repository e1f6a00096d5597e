// Window checkpoints per partition, and the merge of their partials, for windows in a consumer
// group (postgres_window_store.h, partial_merge.h).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/time.h"
#include "windows/postgres_window_store.h"

namespace sluice::windows {
namespace {

namespace json = boost::json;

// Claims a partition: its row made if it is new, its epoch raised either way.
constexpr const char* kClaim = R"sql(
  INSERT INTO sluice_window_partitions (window_name, part, epoch) VALUES ($1, $2, 1)
  ON CONFLICT (window_name, part) DO UPDATE SET epoch = sluice_window_partitions.epoch + 1
  RETURNING definition, state, next_offset, epoch, closed_until, idle, open_from
)sql";

// One checkpoint per row of the JSON parameter, each only where the epoch is still its own: the
// rows written say which partitions were still held.
constexpr const char* kSavePartitions = R"sql(
  UPDATE sluice_window_partitions AS p SET
    definition = c.definition, state = c.state, next_offset = c.next_offset,
    closed_until = c.closed_until, idle = c.idle, open_from = c.open_from, taken_at = $3::bigint
  FROM json_to_recordset($2::json) AS c(part text, definition text, state text,
    next_offset bigint, epoch bigint, closed_until bigint, idle boolean, open_from bigint)
  WHERE p.window_name = $1 AND p.part = c.part AND p.epoch = c.epoch
  RETURNING p.part
)sql";

constexpr const char* kSavePartials = R"sql(
  INSERT INTO sluice_window_partials (window_name, part, key, start_ms, end_ms, state)
  SELECT $1, r.part, r.key, r.start_ms, r.end_ms, r.state
  FROM json_to_recordset($2::json)
    AS r(part text, key text, start_ms bigint, end_ms bigint, state text)
  ON CONFLICT (window_name, part, key, start_ms) DO UPDATE SET
    end_ms = excluded.end_ms, state = excluded.state
)sql";

constexpr const char* kDeleteTaken = R"sql(
  DELETE FROM sluice_window_partials AS p
  USING json_to_recordset($2::json) AS t(part text, key text, start_ms bigint)
  WHERE p.window_name = $1 AND p.part = t.part AND p.key = t.key AND p.start_ms = t.start_ms
)sql";

std::optional<std::int64_t> optional_int(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::stoll(*text);
}

json::value json_int(const std::optional<std::int64_t>& value) {
  return value ? json::value(*value) : json::value(nullptr);
}

}  // namespace

Result<std::vector<std::vector<std::optional<std::string>>>> PostgresWindowStore::query(
    const char* sql, const std::vector<std::optional<std::string>>& params,
    const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p ? p->c_str() : nullptr);
  PGresult* result = PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0);
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    auto error = make_error(Errc::kUnavailable, fmt::format("window store: {}: {}", what,
                                                            PQresultErrorMessage(result)));
    PQclear(result);
    return error;
  }
  std::vector<std::vector<std::optional<std::string>>> rows(
      static_cast<std::size_t>(PQntuples(result)));
  for (int i = 0; i < PQntuples(result); ++i) {
    for (int j = 0; j < PQnfields(result); ++j) {
      rows[static_cast<std::size_t>(i)].push_back(
          PQgetisnull(result, i, j) ? std::nullopt
                                    : std::optional<std::string>(PQgetvalue(result, i, j)));
    }
  }
  PQclear(result);
  return rows;
}

Result<PostgresWindowStore::PartitionCheckpoint> PostgresWindowStore::claim(
    const std::string& window, const std::string& part) {
  if (auto connected = connect(); !connected) return connected.error();
  auto rows = query(kClaim, {window, part}, "claiming " + part);
  if (!rows) return rows.error();
  const auto& row = rows.value().at(0);
  return PartitionCheckpoint{.part = part,
                             .definition = row[0].value_or(""),
                             .state = row[1].value_or(""),
                             .next = static_cast<log::Offset>(std::stoll(row[2].value_or("0"))),
                             .epoch = std::stoll(row[3].value_or("0")),
                             .closed_until = optional_int(row[4]),
                             .idle = row[5].value_or("f") == "t",
                             .open_from = optional_int(row[6])};
}

Result<void> PostgresWindowStore::forget_partition(const std::string& window,
                                                   const std::string& part) {
  if (auto connected = connect(); !connected) return connected.error();
  if (auto partials =
          query("DELETE FROM sluice_window_partials WHERE window_name = $1 AND part = $2",
                {window, part}, "forgetting partials");
      !partials) {
    return partials.error();
  }
  auto reset = query(
      "UPDATE sluice_window_partitions SET definition = '', state = '', next_offset = 0, "
      "closed_until = NULL, idle = false, open_from = NULL WHERE window_name = $1 AND part = $2",
      {window, part}, "forgetting a partition");
  if (!reset) return reset.error();
  return boost::outcome_v2::success();
}

Result<void> PostgresWindowStore::save_partitions(
    const std::string& window, const std::vector<PartitionCheckpoint>& checkpoints,
    const std::vector<PartitionPartial>& partials) {
  if (auto connected = connect(); !connected) return connected.error();
  if (auto begun = exec("BEGIN", {}, "BEGIN"); !begun) return begun;
  auto fail = [&](Error error) -> Result<void> {
    abort_merge();
    return error;
  };
  if (!partials.empty()) {
    json::array rows;
    for (const auto& p : partials) {
      rows.push_back(json::object{{"part", p.part},
                                  {"key", p.window.key},
                                  {"start_ms", p.window.start_ms},
                                  {"end_ms", p.window.end_ms},
                                  {"state", json::serialize(p.window.state)}});
    }
    if (auto saved = query(kSavePartials, {window, json::serialize(rows)}, "storing partials");
        !saved) {
      return fail(saved.error());
    }
  }
  json::array rows;
  for (const auto& c : checkpoints) {
    rows.push_back(json::object{{"part", c.part},
                                {"definition", c.definition},
                                {"state", c.state},
                                {"next_offset", c.next},
                                {"epoch", c.epoch},
                                {"closed_until", json_int(c.closed_until)},
                                {"idle", c.idle},
                                {"open_from", json_int(c.open_from)}});
  }
  auto saved = query(kSavePartitions, {window, json::serialize(rows), std::to_string(now_ms())},
                     "storing partition checkpoints");
  if (!saved) return fail(saved.error());
  if (saved.value().size() != checkpoints.size()) {
    // Another process claimed a partition since: what this one made of it is not kept.
    std::vector<std::string> lost;
    for (const auto& c : checkpoints) {
      const bool kept = std::any_of(saved.value().begin(), saved.value().end(),
                                    [&](const auto& row) { return row[0] == c.part; });
      if (!kept) lost.push_back(c.part);
    }
    return fail(make_error(Errc::kUnavailable, fmt::format("windows.{} no longer holds {}", window,
                                                           fmt::join(lost, ","))));
  }
  if (auto committed = exec("COMMIT", {}, "COMMIT"); !committed) return fail(committed.error());
  return boost::outcome_v2::success();
}

Result<std::vector<PostgresWindowStore::PartitionCheckpoint>> PostgresWindowStore::partitions(
    const std::string& window) {
  if (auto connected = connect(); !connected) return connected.error();
  auto rows = query(
      "SELECT part, definition, next_offset, epoch, closed_until, idle, open_from "
      "FROM sluice_window_partitions WHERE window_name = $1",
      {window}, "reading partition progress");
  if (!rows) return rows.error();
  std::vector<PartitionCheckpoint> out;
  for (const auto& row : rows.value()) {
    out.push_back({.part = row[0].value_or(""),
                   .definition = row[1].value_or(""),
                   .state = {},
                   .next = static_cast<log::Offset>(std::stoll(row[2].value_or("0"))),
                   .epoch = std::stoll(row[3].value_or("0")),
                   .closed_until = optional_int(row[4]),
                   .idle = row[5].value_or("f") == "t",
                   .open_from = optional_int(row[6])});
  }
  return out;
}

Result<bool> PostgresWindowStore::begin_merge(const std::string& window) {
  if (auto connected = connect(); !connected) return connected.error();
  if (auto begun = exec("BEGIN", {}, "BEGIN"); !begun) return begun.error();
  auto locked = query("SELECT pg_try_advisory_xact_lock(hashtext('sluice.window_merge.' || $1))",
                      {window}, "taking the merge lock");
  if (!locked || locked.value().at(0).at(0) != "t") {
    abort_merge();
    if (!locked) return locked.error();
    return false;
  }
  return true;
}

Result<std::vector<PartitionPartial>> PostgresWindowStore::merge_candidates(
    const std::string& window, bool sessions, std::int64_t until) {
  // Sessions: every partial that may overlap one ending by `until`.
  auto rows = query(sessions ? "SELECT part, key, start_ms, end_ms, state FROM "
                               "sluice_window_partials WHERE window_name = $1 AND start_ms < $2"
                             : "SELECT part, key, start_ms, end_ms, state FROM "
                               "sluice_window_partials WHERE window_name = $1 AND end_ms <= $2",
                    {window, std::to_string(until)}, "reading partials");
  if (!rows) return rows.error();
  std::vector<PartitionPartial> out;
  out.reserve(rows.value().size());
  for (const auto& row : rows.value()) {
    boost::system::error_code ec;
    auto state = json::parse(row[4].value_or(""), ec);
    if (ec) return make_error(Errc::kCorrupt, "window store: an unreadable partial of " + window);
    out.push_back({row[0].value_or(""),
                   {row[1].value_or(""), std::stoll(row[2].value_or("0")),
                    std::stoll(row[3].value_or("0")), std::move(state)}});
  }
  return out;
}

Result<void> PostgresWindowStore::finish_merge(const std::string& window, const Merged& merged) {
  auto fail = [&](Error error) -> Result<void> {
    abort_merge();
    return error;
  };
  if (auto stored = upsert_results(window, merged.results, {}); !stored) {
    return fail(stored.error());
  }
  json::array taken;
  for (const auto& [part, key, start] : merged.taken)
    taken.push_back(json::object{{"part", part}, {"key", key}, {"start_ms", start}});
  if (auto deleted = query(kDeleteTaken, {window, json::serialize(taken)}, "deleting partials");
      !deleted) {
    return fail(deleted.error());
  }
  if (auto committed = exec("COMMIT", {}, "COMMIT"); !committed) return fail(committed.error());
  return boost::outcome_v2::success();
}

void PostgresWindowStore::abort_merge() {
  PQclear(PQexec(conn_, "ROLLBACK"));
}

}  // namespace sluice::windows
