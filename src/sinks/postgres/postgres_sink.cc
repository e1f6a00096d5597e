#include "sinks/postgres/postgres_sink.h"

#include <fmt/format.h>

#include <cctype>

#include "core/time.h"

namespace sluice::sinks {
namespace {

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

// COPY text format: backslash escapes for the characters that delimit fields and rows.
void append_copy_text(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

void append_copy_optional(std::string& out, const std::optional<std::string_view>& text) {
  if (text) {
    append_copy_text(out, *text);
  } else {
    out += "\\N";
  }
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

Result<std::unique_ptr<pipeline::Sink>> PostgresSink::open(const pipeline::SinkContext&,
                                                           const Settings& settings) {
  // Connecting waits for the first batch: a database that is down delays the pipeline, not
  // the start of the process.
  return std::unique_ptr<pipeline::Sink>(std::make_unique<PostgresSink>(settings));
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
      "SET client_min_messages = warning;"
      "CREATE TABLE IF NOT EXISTS {0} ("
      "  stream text NOT NULL, id text NOT NULL, ts timestamptz NOT NULL,"
      "  received_at timestamptz NOT NULL, key text, type text, payload {1} NOT NULL,"
      "  PRIMARY KEY (stream, id));"
      "CREATE INDEX IF NOT EXISTS {0}_ts ON {0} (ts);"
      "CREATE TABLE IF NOT EXISTS sluice_pipeline_offsets ("
      "  consumer text NOT NULL, stream text NOT NULL, partition integer NOT NULL,"
      "  next_offset bigint NOT NULL, PRIMARY KEY (consumer, stream, partition));"
      "CREATE TEMP TABLE sluice_stage (LIKE {0}) ON COMMIT DELETE ROWS;",
      t, settings_.payload_type);
  ResultHolder result{PQexec(conn_, schema.c_str())};
  if (PQresultStatus(result.result) != PGRES_COMMAND_OK) {
    std::string error = PQresultErrorMessage(result.result);
    disconnect();
    return "postgres: creating the tables: " + error;
  }
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
  // Data exceptions and integrity violations: the same batch would fail again.
  if (sqlstate.starts_with("22") || sqlstate.starts_with("23")) {
    return pipeline::WriteOutcome::rejected(reason);
  }
  return pipeline::WriteOutcome::retry(reason);
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
  ResultHolder result{PQexecParams(
      conn_,
      "SELECT stream, partition, next_offset FROM sluice_pipeline_offsets WHERE consumer = $1", 1,
      nullptr, params, nullptr, nullptr, 0)};
  if (PQresultStatus(result.result) != PGRES_TUPLES_OK) {
    std::string error = PQresultErrorMessage(result.result);
    disconnect();
    return make_error(Errc::kUnavailable, "postgres: reading positions: " + error);
  }
  pipeline::Positions positions;
  for (int row = 0; row < PQntuples(result.result); ++row) {
    log::Partition partition(
        PQgetvalue(result.result, row, 0),
        static_cast<std::uint32_t>(std::stoul(PQgetvalue(result.result, row, 1))));
    positions[partition] = std::stoull(PQgetvalue(result.result, row, 2));
  }
  return std::optional<pipeline::Positions>(std::move(positions));
}

std::optional<pipeline::WriteOutcome> PostgresSink::copy_rows(const pipeline::SinkBatch& batch,
                                                              const std::string& into,
                                                              bool& duplicate) {
  duplicate = false;
  {
    ResultHolder copy{PQexec(conn_, ("COPY " + into + " FROM STDIN").c_str())};
    if (PQresultStatus(copy.result) != PGRES_COPY_IN) return failure(copy.result, "COPY");
  }
  std::string rows;
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
    append_copy_text(rows, record.stream);
    rows += '\t';
    append_copy_text(rows, e.id);
    rows += '\t';
    rows += format_iso8601_ms(e.ts_ms);
    rows += '\t';
    rows += format_iso8601_ms(e.received_at_ms);
    rows += '\t';
    append_copy_optional(rows, e.key);
    rows += '\t';
    append_copy_optional(rows, e.type);
    rows += '\t';
    append_copy_text(rows, e.payload);
    rows += '\n';
    if (rows.size() >= kChunk) {
      sent = flush();
      if (!sent) break;
    }
  }
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

pipeline::WriteOutcome PostgresSink::write(const pipeline::SinkBatch& batch) {
  if (auto error = connect()) return pipeline::WriteOutcome::retry(*error);
  if (auto failed = exec("BEGIN")) return *failed;
  if (!batch.records.empty()) {
    // Straight into the table: one COPY, the fast path. An id the table already has (a
    // client's retry with the same id) fails it with unique_violation; then the batch goes
    // through the staging table and INSERT ... ON CONFLICT DO NOTHING instead.
    bool duplicate = false;
    if (auto failed = copy_rows(batch, settings_.table, duplicate)) return *failed;
    if (duplicate) {
      if (auto failed = exec("BEGIN")) return *failed;
      if (auto failed = copy_rows(batch, "sluice_stage", duplicate)) return *failed;
      if (duplicate) return pipeline::WriteOutcome::retry("postgres: staging table conflict");
      if (auto failed = exec(fmt::format(
              "INSERT INTO {0} SELECT * FROM sluice_stage ON CONFLICT (stream, id) DO NOTHING",
              settings_.table))) {
        return *failed;
      }
    }
  }
  for (const auto& [partition, next] : batch.next) {
    const std::string index = std::to_string(partition.index);
    const std::string offset = std::to_string(next);
    const char* params[] = {batch.consumer.c_str(), partition.stream.c_str(), index.c_str(),
                            offset.c_str()};
    ResultHolder result{PQexecParams(
        conn_,
        "INSERT INTO sluice_pipeline_offsets (consumer, stream, partition, next_offset) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, stream, partition) "
        "DO UPDATE SET next_offset = excluded.next_offset",
        4, nullptr, params, nullptr, nullptr, 0)};
    if (PQresultStatus(result.result) != PGRES_COMMAND_OK) {
      return failure(result.result, "position update");
    }
  }
  if (auto failed = exec("COMMIT")) return *failed;
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
