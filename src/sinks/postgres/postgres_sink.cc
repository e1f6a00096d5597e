#include "sinks/postgres/postgres_sink.h"

#include <fmt/format.h>

#include <cctype>
#include <map>
#include <string_view>
#include <unordered_map>

#include "core/time.h"
#include "store/copy_binary.h"
#include "store/pg_connection.h"
#include "store/postgres_positions.h"

namespace sluice::sinks {
namespace {

namespace copy_binary = store::copy_binary;

std::optional<std::string> check_identifier(const config::Scalar& v) {
  const std::string& name = v.text;
  bool ok =
      !name.empty() && name.size() <= 63 && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok)
    return fmt::format("\"{}\" is not a table name: use lower-case letters, digits, _", name);
  return std::nullopt;
}

struct ResultHolder {
  PGresult* result;
  ~ResultHolder() { PQclear(result); }
};

}  // namespace

const config::Table& PostgresSink::settings_table() {
  static const config::Table table{
      "postgres",
      "Stores events in a PostgreSQL table, exactly once (rows and positions in one "
      "transaction); COPY in batches.",
      {
          config::string_setting("url", &Settings::url, "",
                                 "libpq connection URI or key=value string, such as "
                                 "`postgresql://sluice:${PG_PASSWORD}@db:5432/events`. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "a connection URL is required";
                                   return std::nullopt;
                                 }),
          config::string_setting("table", &Settings::table, "events",
                                 "Table name, created if missing.", check_identifier),
          config::string_setting("payload_type", &Settings::payload_type, "jsonb",
                                 "Column type of `payload` when the table is created: `jsonb` "
                                 "(queryable with PostgreSQL's JSON operators) or `text` (stored "
                                 "as received, faster).",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text == "jsonb" || v.text == "text") return std::nullopt;
                                   return "use jsonb or text";
                                 }),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> PostgresSink::open(const pipeline::SinkContext& context,
                                                           const Settings& settings) {
  // Connecting waits for the first batch: a database that is down delays the pipeline, not
  // the start of the process.
  return std::unique_ptr<pipeline::Sink>(std::make_unique<PostgresSink>(settings, context.upsert));
}

PostgresSink::~PostgresSink() {
  disconnect();
}

void PostgresSink::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

std::optional<std::string> PostgresSink::connect() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return std::nullopt;
  disconnect();
  conn_ = PQconnectdb(settings_.url.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn_);
    while (!error.empty() && (error.back() == '\n' || error.back() == ' '))
      error.pop_back();
    disconnect();
    return "postgres: cannot connect: " + error;
  }
  const std::string& t = settings_.table;
  const std::string schema = fmt::format(
      "SET client_min_messages = warning; SET client_encoding = 'UTF8';"
      // One statement string is one transaction: processes that start together (replicas)
      // make the tables one after the other, as the store does.
      "SELECT pg_advisory_xact_lock(7365727321);"
      "CREATE TABLE IF NOT EXISTS {0} ("
      "  stream text NOT NULL, id text NOT NULL, ts timestamptz NOT NULL,"
      "  received_at timestamptz NOT NULL, key text, type text, payload {1} NOT NULL,"
      "  PRIMARY KEY (stream, id));"
      "CREATE INDEX IF NOT EXISTS {0}_ts ON {0} (ts);"
      "{2}"
      "CREATE TEMP TABLE sluice_stage (LIKE {0}) ON COMMIT DELETE ROWS;",
      t, settings_.payload_type,
      // Versions before the one positions table kept these in sluice_pipeline_offsets.
      store::positions::postgres_schema({"sluice_pipeline_offsets", pipeline::kConsumerPrefix}));
  ResultHolder result{PQexec(conn_, schema.c_str())};
  if (PQresultStatus(result.result) != PGRES_COMMAND_OK) {
    std::string error = PQresultErrorMessage(result.result);
    disconnect();
    return "postgres: creating the tables: " + error;
  }
  return check_columns();
}

std::optional<std::string> PostgresSink::check_columns() {
  // The binary COPY sends each column in its type's binary form, so the table (perhaps made by
  // hand) must have the types it is written for.
  const char* params[] = {settings_.table.c_str()};
  ResultHolder result{
      PQexecParams(conn_,
                   "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                   " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                   1, nullptr, params, nullptr, nullptr, 0)};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(result.result);
    disconnect();
    return "postgres: reading the table's columns: " + error;
  }
  std::map<std::string, std::string, std::less<>> types;
  for (int row = 0; row < PQntuples(result.result); ++row)
    types[PQgetvalue(result.result, row, 0)] = PQgetvalue(result.result, row, 1);
  auto type_of = [&](std::string_view column) {
    auto it = types.find(column);
    return it == types.end() ? std::string("missing") : it->second;
  };
  auto is_text = [](const std::string& type) {
    return type == "text" || type.starts_with("character varying");
  };
  std::string wrong;
  for (std::string_view column : {"stream", "id", "key", "type"}) {
    if (!is_text(type_of(column)))
      wrong += fmt::format(" {} is {} (want text);", column, type_of(column));
  }
  for (std::string_view column : {"ts", "received_at"}) {
    const std::string type = type_of(column);
    if (!type.starts_with("timestamp"))
      wrong += fmt::format(" {} is {} (want timestamptz);", column, type);
  }
  const std::string payload = type_of("payload");
  if (payload != "jsonb" && payload != "json" && !is_text(payload))
    wrong += fmt::format(" payload is {} (want jsonb, json or text);", payload);
  if (!wrong.empty()) {
    wrong.pop_back();
    disconnect();
    return fmt::format("postgres: table {} does not fit:{}", settings_.table, wrong);
  }
  payload_is_jsonb_ = payload == "jsonb";
  return std::nullopt;
}

pipeline::WriteOutcome PostgresSink::failure(PGresult* result, const std::string& what) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  const std::string reason = fmt::format("postgres {}: {}", what, message);
  const std::string_view sqlstate = state ? state : "";
  if (PQstatus(conn_) != CONNECTION_OK) {
    disconnect();
    return pipeline::WriteOutcome::retry(reason);
  }
  PQclear(PQexec(conn_, "ROLLBACK"));
  const Fault fault = pg::fault_of(sqlstate);
  return pipeline::WriteOutcome::failed(
      make_error(fault == Fault::kData ? Errc::kInvalidInput : Errc::kUnavailable, reason, fault));
}

std::optional<pipeline::WriteOutcome> PostgresSink::exec(const std::string& sql) {
  ResultHolder result{PQexec(conn_, sql.c_str())};
  if (PQresultStatus(result.result) == PGRES_COMMAND_OK) return std::nullopt;
  return failure(result.result, sql.substr(0, sql.find(' ')));
}

Result<std::optional<pipeline::Positions>> PostgresSink::stored_positions(
    const std::string& consumer) {
  if (auto error = connect()) return make_error(Errc::kUnavailable, *error);
  const char* params[] = {consumer.c_str()};
  ResultHolder result{PQexecParams(conn_, store::positions::kPostgresSelect, 1, nullptr, params,
                                   nullptr, nullptr, 0)};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(result.result);
    disconnect();
    return make_error(Errc::kUnavailable, "postgres: reading positions: " + error);
  }
  pipeline::Positions positions;
  for (const auto& [partition, position] : store::positions::rows_of(result.result))
    positions[partition] = position.next;
  return std::optional<pipeline::Positions>(std::move(positions));
}

Result<std::optional<pipeline::Positions>> PostgresSink::claim(
    const std::string& consumer, const std::vector<log::Partition>& partitions) {
  if (auto error = connect()) return make_error(Errc::kUnavailable, *error);
  pipeline::Positions positions;
  for (const auto& partition : partitions) {
    const std::string index = std::to_string(partition.index);
    const char* params[] = {consumer.c_str(), partition.stream.c_str(), index.c_str()};
    ResultHolder result{PQexecParams(conn_, store::positions::kPostgresClaim, 3, nullptr, params,
                                     nullptr, nullptr, 0)};
    if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
      std::string error = PQresultErrorMessage(result.result);
      disconnect();
      return make_error(Errc::kUnavailable, "postgres: claiming positions: " + error);
    }
    positions[partition] = std::stoull(PQgetvalue(result.result, 0, 0));
    epochs_[partition] = PQgetvalue(result.result, 0, 2);
  }
  return std::optional<pipeline::Positions>(std::move(positions));
}

std::optional<pipeline::WriteOutcome> PostgresSink::copy_rows(const pipeline::SinkBatch& batch,
                                                              const std::string& into,
                                                              bool& duplicate) {
  duplicate = false;
  {
    ResultHolder copy{PQexec(conn_, ("COPY " + into + " (" + std::string(copy_binary::kColumnList) +
                                     ") FROM STDIN (FORMAT binary)")
                                        .c_str())};
    if (PQresultStatus(copy.result) != PGRES_COPY_IN) return failure(copy.result, "COPY");
  }
  std::string rows{copy_binary::kBinaryHeader};
  constexpr std::size_t kChunk = 256 << 10;
  auto flush = [&]() {
    const bool ok =
        rows.empty() || PQputCopyData(conn_, rows.data(), static_cast<int>(rows.size())) == 1;
    rows.clear();
    return ok;
  };
  bool sent = true;
  for (const auto& record : batch.records) {
    const EventView& e = record.event;
    copy_binary::append_row(
        rows, {record.stream, e.id, e.ts_ms, e.received_at_ms, e.key, e.type, e.payload},
        payload_is_jsonb_);
    if (rows.size() >= kChunk) {
      sent = flush();
      if (!sent) break;
    }
  }
  if (sent) copy_binary::append_trailer(rows);
  sent = sent && flush();
  if (PQputCopyEnd(conn_, sent ? nullptr : "sending failed") != 1) return failure(nullptr, "COPY");
  ResultHolder copied{PQgetResult(conn_)};
  while (PGresult* more = PQgetResult(conn_))
    PQclear(more);
  if (PQresultStatus(copied.result) == PGRES_COMMAND_OK) return std::nullopt;
  const char* state = PQresultErrorField(copied.result, PG_DIAG_SQLSTATE);
  if (state && std::string_view(state) == "23505" && PQstatus(conn_) == CONNECTION_OK) {
    PQclear(PQexec(conn_, "ROLLBACK"));
    duplicate = true;
    return std::nullopt;
  }
  return failure(copied.result, "COPY");
}

const pipeline::SinkBatch& PostgresSink::last_of_each_id(const pipeline::SinkBatch& batch,
                                                         pipeline::SinkBatch& out) {
  // One statement cannot update a row twice: of events sharing an id, the last is written.
  std::unordered_map<std::string_view, std::size_t> last;
  for (std::size_t i = 0; i < batch.records.size(); ++i)
    last[batch.records[i].event.id] = i;
  if (last.size() == batch.records.size()) return batch;
  out.records.clear();
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    if (last[batch.records[i].event.id] == i) out.records.push_back(batch.records[i]);
  }
  return out;
}

pipeline::WriteOutcome PostgresSink::write(const pipeline::SinkBatch& batch) {
  if (auto error = connect()) return pipeline::WriteOutcome::retry(*error);
  if (auto failed = exec("BEGIN")) return *failed;
  if (!batch.records.empty()) {
    // Straight into the table: one COPY, the fast path. An id the table already has (a
    // client's retry with the same id) fails it with unique_violation; then the batch goes
    // through the staging table and INSERT ... ON CONFLICT instead: DO NOTHING keeps the
    // stored row, DO UPDATE (upsert) the batch's last event of that id.
    const pipeline::SinkBatch& rows = upsert_ ? last_of_each_id(batch, deduplicated_) : batch;
    bool duplicate = false;
    if (auto failed = copy_rows(rows, settings_.table, duplicate)) return *failed;
    if (duplicate) {
      if (auto failed = exec("BEGIN")) return *failed;
      if (auto failed = copy_rows(rows, "sluice_stage", duplicate)) return *failed;
      if (duplicate) return pipeline::WriteOutcome::retry("postgres: staging table conflict");
      if (auto failed = exec(fmt::format(
              "INSERT INTO {0} ({1}) SELECT {1} FROM sluice_stage ON CONFLICT (stream, id) {2}",
              settings_.table, copy_binary::kColumnList,
              upsert_ ? "DO UPDATE SET ts = excluded.ts, received_at = excluded.received_at, "
                        "key = excluded.key, type = excluded.type, payload = excluded.payload"
                      : "DO NOTHING"))) {
        return *failed;
      }
    }
  }
  for (const auto& [partition, next] : batch.next) {
    const std::string index = std::to_string(partition.index);
    const std::string offset = std::to_string(next);
    const auto epoch = epochs_.find(partition);
    if (epoch == epochs_.end()) {
      const char* params[] = {batch.consumer.c_str(), partition.stream.c_str(), index.c_str(),
                              offset.c_str(), "0"};
      ResultHolder result{PQexecParams(conn_, store::positions::kPostgresUpsert, 5, nullptr, params,
                                       nullptr, nullptr, 0)};
      if (PQresultStatus(result.result) != PGRES_COMMAND_OK) {
        return failure(result.result, "position update");
      }
      continue;
    }
    // Last in the transaction: a later claim by another process rolls the whole batch back.
    const char* params[] = {
        batch.consumer.c_str(), partition.stream.c_str(), index.c_str(), offset.c_str(), "0",
        epoch->second.c_str()};
    ResultHolder result{PQexecParams(conn_, store::positions::kPostgresFencedUpsert, 6, nullptr,
                                     params, nullptr, nullptr, 0)};
    if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
      return failure(result.result, "position update");
    }
    if (PQntuples(result.result) == 0) {
      PQclear(PQexec(conn_, "ROLLBACK"));
      return pipeline::WriteOutcome::fenced_off(
          store::positions::fenced_message(batch.consumer, partition));
    }
  }
  if (auto failed = exec("COMMIT")) return *failed;
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
