#include "store/postgres_store.h"

#include <fmt/format.h>

#include <string_view>
#include <unordered_map>

#include "core/event.h"
#include "core/logging.h"
#include "store/copy_binary.h"
#include "store/postgres_positions.h"

namespace sluice::store {
namespace {

namespace copy = copy_binary;

// Text compares byte by byte (COLLATE "C"), as in SQLite, so pages and top-N order the same.
// Keyset pages run on (ts, seq), so the indexes end in seq.
constexpr const char* kSchema = R"sql(
  CREATE TABLE IF NOT EXISTS events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    ts bigint NOT NULL,
    received_at bigint NOT NULL,
    key text COLLATE "C",
    type text COLLATE "C",
    payload json NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS events_stream_id ON events (stream, id);
  CREATE INDEX IF NOT EXISTS events_ts ON events (ts, seq);
  CREATE INDEX IF NOT EXISTS events_stream_ts ON events (stream, ts, seq);
  CREATE INDEX IF NOT EXISTS events_type_ts ON events (type, ts, seq);
  CREATE TABLE IF NOT EXISTS rollup_fields (
    stream text COLLATE "C" PRIMARY KEY,
    fields text NOT NULL
  );
)sql";

constexpr const char* kRollupSchema = R"sql(
  CREATE TABLE IF NOT EXISTS rollup_counts{0} (
    stream text COLLATE "C" NOT NULL,
    minute bigint NOT NULL,
    type text COLLATE "C" NOT NULL,
    d1 text COLLATE "C" NOT NULL,
    d2 text COLLATE "C" NOT NULL,
    d3 text COLLATE "C" NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (stream, minute, type, d1, d2, d3)
  );
  CREATE TABLE IF NOT EXISTS rollup_lag{0} (
    stream text COLLATE "C" NOT NULL,
    minute bigint NOT NULL,
    bucket integer NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (stream, minute, bucket)
  );
)sql";

// This connection's staging tables, emptied by each commit.
constexpr const char* kStaging = R"sql(
  CREATE TEMP TABLE IF NOT EXISTS staged_events (
    n integer, id text, ts bigint, received_at bigint, key text, type text, payload text
  ) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS staged_counts (
    level integer, minute bigint, type text, d1 text, d2 text, d3 text, count bigint
  ) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS staged_lag (
    level integer, minute bigint, bucket integer, count bigint
  ) ON COMMIT DELETE ROWS;
)sql";

// A COPY row's fields after its first (the stream, or the position in the batch).
void append_event_fields(std::string& out, const EventView& event) {
  copy::append_field(out, event.id);
  copy::append_int8_field(out, event.ts_ms);
  copy::append_int8_field(out, event.received_at_ms);
  copy::append_optional_field(out, event.key);
  copy::append_optional_field(out, event.type);
  copy::append_field(out, event.payload);
}

constexpr const char* kRollupTables[] = {"rollup_counts", "rollup_lag", "rollup_counts_hourly",
                                         "rollup_lag_hourly"};

}  // namespace

PostgresStore::PostgresStore(std::string url, std::string schema,
                             std::map<std::string, std::vector<std::string>> stats_fields)
    : conn_(std::move(url), std::move(schema)), rollups_(std::move(stats_fields)) {}

Result<void> connect_store(pg::Connection& conn) {
  if (conn.connected()) return boost::outcome_v2::success();
  if (auto connected = conn.connect(); !connected) return connected;
  // One session at a time makes the schema and tables (the processor, API replicas):
  // concurrent CREATE … IF NOT EXISTS of one name can fail on the catalog's unique index.
  std::string sql = "BEGIN; SELECT pg_advisory_xact_lock(7365727321);";
  sql += fmt::format("CREATE SCHEMA IF NOT EXISTS {};", conn.schema());
  sql += kSchema;
  sql += positions::postgres_schema(positions::kStoreOlder);
  for (const char* suffix : {"", "_hourly"})
    sql += fmt::format(kRollupSchema, suffix);
  sql += "COMMIT;";
  if (auto made = conn.exec(sql, "schema"); !made) {
    conn.disconnect();  // the next use connects and tries again
    return made;
  }
  return boost::outcome_v2::success();
}

Result<void> PostgresStore::connect() {
  if (!conn_.connected()) ready_ = false;
  if (ready_) return boost::outcome_v2::success();
  if (auto connected = connect_store(conn_); !connected) return connected;
  if (auto made = conn_.exec(kStaging, "staging tables"); !made) return made;
  ready_ = true;
  return boost::outcome_v2::success();
}

Result<positions::Rows> PostgresStore::positions_of(const std::string& consumer) {
  if (auto connected = connect(); !connected) return connected.error();
  auto rows = conn_.exec(positions::kPostgresSelect, {consumer}, "positions");
  if (!rows) return rows.error();
  return positions::rows_of(rows.value().get());
}

Result<std::map<log::Partition, std::uint64_t>> PostgresStore::skipped(
    const std::string& consumer) {
  auto rows = positions_of(consumer);
  if (!rows) return rows.error();
  std::map<log::Partition, std::uint64_t> out;
  for (const auto& [partition, position] : rows.value())
    if (position.skipped > 0) out[partition] = position.skipped;
  return out;
}

Result<std::map<log::Partition, log::Offset>> PostgresStore::committed_offsets(
    const std::string& consumer) {
  auto rows = positions_of(consumer);
  if (!rows) return rows.error();
  std::map<log::Partition, log::Offset> out;
  for (const auto& [partition, position] : rows.value())
    out[partition] = position.next;
  return out;
}

Result<std::map<log::Partition, log::Offset>> PostgresStore::claim(
    const std::string& consumer, const std::vector<log::Partition>& partitions) {
  if (auto connected = connect(); !connected) return connected.error();
  std::map<log::Partition, log::Offset> out;
  for (const auto& partition : partitions) {
    auto claimed =
        conn_.exec(positions::kPostgresClaim,
                   {consumer, partition.stream, std::to_string(partition.index)}, "claim");
    if (!claimed) return claimed.error();
    PGresult* row = claimed.value().get();
    out[partition] = std::stoull(PQgetvalue(row, 0, 0));
    epochs_[{consumer, partition}] = PQgetvalue(row, 0, 2);
  }
  return out;
}

Result<void> PostgresStore::prepare_statistics(const std::vector<std::string>& streams) {
  if (auto connected = connect(); !connected) return connected;
  if (auto begun = conn_.exec("BEGIN", "begin"); !begun) return begun;
  Result<void> done = boost::outcome_v2::success();
  for (const auto& stream : streams) {
    done = check_rollup_fields(stream);
    if (!done) break;
  }
  if (done) done = conn_.exec("COMMIT", "commit");
  if (!done) {
    if (conn_.connected()) (void)conn_.exec("ROLLBACK", "rollback");
    // The checks are made again in the transaction of the next batch.
    rollups_.forget_checked();
  }
  return done;
}

Result<void> PostgresStore::write(const std::string& consumer, const log::Partition& partition,
                                  const log::ReadBatch& batch) {
  if (auto connected = connect(); !connected) return connected;
  if (auto begun = conn_.exec("BEGIN", "begin"); !begun) return begun;
  auto written = write_in_transaction(consumer, partition, batch);
  if (written) written = conn_.exec("COMMIT", "commit");
  if (!written) {
    if (conn_.connected()) (void)conn_.exec("ROLLBACK", "rollback");
    rollups_.forget_checked();
    return written;
  }
  return boost::outcome_v2::success();
}

Result<void> PostgresStore::write_in_transaction(const std::string& consumer,
                                                 const log::Partition& partition,
                                                 const log::ReadBatch& batch) {
  const std::string& stream = partition.stream;
  if (auto checked = check_rollup_fields(stream); !checked) return checked;

  std::vector<EventView> events;
  events.reserve(batch.records.size());
  std::unordered_map<std::string_view, std::size_t> first_of_id;  // id -> its first event
  for (const auto& record : batch.records) {
    auto event = decode_event(record.bytes);
    if (!event) {
      return make_error(
          Errc::kUnavailable,
          fmt::format("PostgreSQL store: undecodable record at offset {}", record.offset));
    }
    first_of_id.try_emplace(event->id, events.size());
    events.push_back(*event);
  }
  // Counted only when stored: a repeated id inserts nothing.
  auto& fields = rollups_.fields(stream);
  RollupBatch& rollup = rollup_batch_;
  rollup.clear();
  std::array<std::string, 3> dims;
  auto count = [&](const EventView& event) {
    fields.read(event.payload, dims);
    rollup.add(event.ts_ms, event.received_at_ms, event.type, dims);
  };

  // Ids are new but for a client's retry: the rows go straight into the table, and only when
  // one is there already (the COPY fails on the unique index) do they go through staging.
  auto direct =
      first_of_id.size() == events.size() ? copy_new(stream, events) : Result<bool>(false);
  if (!direct) return direct.error();
  if (direct.value()) {
    for (const auto& event : events)
      count(event);
  } else {
    auto inserted = insert_unless_stored(stream, events);
    if (!inserted) return inserted.error();
    PGresult* ids = inserted.value().get();
    for (int i = 0; i < PQntuples(ids); ++i) {
      const std::string_view id(PQgetvalue(ids, i, 0),
                                static_cast<std::size_t>(PQgetlength(ids, i, 0)));
      const auto found = first_of_id.find(id);
      if (found != first_of_id.end()) count(events[found->second]);
    }
  }
  if (auto counted = add_rollup(stream, rollup); !counted) return counted;

  // Last: a claim since this process's own is seen here, and the whole batch rolled back.
  const auto epoch = epochs_.find({consumer, partition});
  if (epoch == epochs_.end()) {
    auto offset = conn_.exec(positions::kPostgresUpsert,
                             {consumer, stream, std::to_string(partition.index),
                              std::to_string(batch.next_offset), std::to_string(batch.skipped)},
                             "offset update");
    if (!offset) return offset.error();
    return boost::outcome_v2::success();
  }
  auto offset =
      conn_.exec(positions::kPostgresFencedUpsert,
                 {consumer, stream, std::to_string(partition.index),
                  std::to_string(batch.next_offset), std::to_string(batch.skipped), epoch->second},
                 "offset update");
  if (!offset) return offset.error();
  if (PQntuples(offset.value().get()) == 0) {
    return make_error(Errc::kUnavailable, positions::fenced_message(consumer, partition));
  }
  return boost::outcome_v2::success();
}

Result<bool> PostgresStore::copy_new(const std::string& stream,
                                     const std::vector<EventView>& events) {
  copy_buffer_.assign(copy::kBinaryHeader);
  for (const auto& event : events) {
    copy::append_big_endian(copy_buffer_, copy::kColumns);
    copy::append_field(copy_buffer_, stream);
    append_event_fields(copy_buffer_, event);
  }
  copy::append_trailer(copy_buffer_);
  if (auto marked = conn_.exec("SAVEPOINT direct", "savepoint"); !marked) return marked.error();
  auto copied =
      conn_.copy(fmt::format("COPY events ({}) FROM STDIN (FORMAT binary)", copy::kColumnList),
                 copy_buffer_, "copy");
  if (copied) {
    if (auto released = conn_.exec("RELEASE SAVEPOINT direct", "savepoint"); !released) {
      return released.error();
    }
    return true;
  }
  // A row the table has (or one it cannot take, which staging finds out again): undone alone.
  if (copied.error().fault != Fault::kData) return copied.error();
  if (auto undone = conn_.exec("ROLLBACK TO SAVEPOINT direct", "savepoint"); !undone) {
    return undone.error();
  }
  return false;
}

Result<pg::ResultPtr> PostgresStore::insert_unless_stored(const std::string& stream,
                                                          const std::vector<EventView>& events) {
  copy_buffer_.assign(copy::kBinaryHeader);
  for (std::size_t n = 0; n < events.size(); ++n) {
    const EventView& event = events[n];
    copy::append_big_endian(copy_buffer_, std::int16_t{7});
    copy::append_int4_field(copy_buffer_, static_cast<std::int32_t>(n));
    append_event_fields(copy_buffer_, event);
  }
  copy::append_trailer(copy_buffer_);
  if (auto copied = conn_.copy("COPY staged_events (n, id, ts, received_at, key, type, payload) "
                               "FROM STDIN (FORMAT binary)",
                               copy_buffer_, "copy");
      !copied) {
    return copied.error();
  }
  // ORDER BY n: of the same id twice in a batch, the first is stored.
  return conn_.exec(
      "INSERT INTO events (stream, id, ts, received_at, key, type, payload) "
      "SELECT $1, id, ts, received_at, key, type, payload::json FROM staged_events ORDER BY n "
      "ON CONFLICT (stream, id) DO NOTHING RETURNING id",
      {stream}, "insert");
}

Result<void> PostgresStore::check_rollup_fields(const std::string& stream) {
  if (rollups_.checked(stream)) return boost::outcome_v2::success();
  const auto configured = rollups_.fields_json(stream);
  auto stored =
      conn_.exec("SELECT fields FROM rollup_fields WHERE stream = $1", {stream}, "rollup fields");
  if (!stored) return stored.error();
  PGresult* r = stored.value().get();
  if (PQntuples(r) == 0 || PQgetvalue(r, 0, 0) != configured) {
    // Counted anew from the stored events, in the transaction of the batch at hand.
    logger("store")->info("counting the statistics of stream={} by fields={}", stream, configured);
    for (const char* table : kRollupTables) {
      if (auto cleared = conn_.exec(fmt::format("DELETE FROM {} WHERE stream = $1", table),
                                    {stream}, "rollup reset");
          !cleared) {
        return cleared.error();
      }
    }
    if (auto counted = recount(stream); !counted) return counted;
    auto saved = conn_.exec(
        "INSERT INTO rollup_fields (stream, fields) VALUES ($1, $2) "
        "ON CONFLICT (stream) DO UPDATE SET fields = excluded.fields",
        {stream, configured}, "rollup fields");
    if (!saved) return saved.error();
  }
  rollups_.set_checked(stream);
  return boost::outcome_v2::success();
}

Result<void> PostgresStore::recount(const std::string& stream) {
  auto& fields = rollups_.fields(stream);
  RollupBatch batch;
  std::array<std::string, 3> dims;
  std::string after = "0";
  for (;;) {  // in chunks, for bounded memory on big stores
    auto rows = conn_.exec(
        "SELECT seq, ts, received_at, type, payload FROM events WHERE stream = $1 AND seq > $2 "
        "ORDER BY seq LIMIT 50000",
        {stream, after}, "rollup recount");
    if (!rows) return rows.error();
    PGresult* r = rows.value().get();
    const int n = PQntuples(r);
    for (int i = 0; i < n; ++i) {
      fields.read(
          std::string_view(PQgetvalue(r, i, 4), static_cast<std::size_t>(PQgetlength(r, i, 4))),
          dims);
      batch.add(std::stoll(PQgetvalue(r, i, 1)), std::stoll(PQgetvalue(r, i, 2)),
                PQgetisnull(r, i, 3) ? std::nullopt
                                     : std::optional<std::string_view>(PQgetvalue(r, i, 3)),
                dims);
    }
    if (auto added = add_rollup(stream, batch); !added) return added;
    if (n < 50000) return boost::outcome_v2::success();
    after = PQgetvalue(r, n - 1, 0);
  }
}

Result<void> PostgresStore::add_rollup(const std::string& stream, RollupBatch& batch) {
  if (batch.empty()) return boost::outcome_v2::success();
  const RollupBatch hourly = batch.hourly();
  const std::array<const RollupBatch*, 2> levels = {&batch, &hourly};
  copy_buffer_.assign(copy::kBinaryHeader);
  for (std::int32_t level = 0; level < 2; ++level) {
    for (const auto& [key, n] : levels[level]->counts) {
      copy::append_big_endian(copy_buffer_, std::int16_t{7});
      copy::append_int4_field(copy_buffer_, level);
      copy::append_int8_field(copy_buffer_, std::get<0>(key));
      copy::append_field(copy_buffer_, std::get<1>(key));
      copy::append_field(copy_buffer_, std::get<2>(key));
      copy::append_field(copy_buffer_, std::get<3>(key));
      copy::append_field(copy_buffer_, std::get<4>(key));
      copy::append_int8_field(copy_buffer_, n);
    }
  }
  copy::append_trailer(copy_buffer_);
  if (auto copied =
          conn_.copy("COPY staged_counts FROM STDIN (FORMAT binary)", copy_buffer_, "rollup copy");
      !copied) {
    return copied;
  }
  copy_buffer_.assign(copy::kBinaryHeader);
  for (std::int32_t level = 0; level < 2; ++level) {
    for (const auto& [key, n] : levels[level]->lag) {
      copy::append_big_endian(copy_buffer_, std::int16_t{4});
      copy::append_int4_field(copy_buffer_, level);
      copy::append_int8_field(copy_buffer_, key.first);
      copy::append_int4_field(copy_buffer_, key.second);
      copy::append_int8_field(copy_buffer_, n);
    }
  }
  copy::append_trailer(copy_buffer_);
  if (auto copied =
          conn_.copy("COPY staged_lag FROM STDIN (FORMAT binary)", copy_buffer_, "rollup copy");
      !copied) {
    return copied;
  }
  for (std::int32_t level = 0; level < 2; ++level) {
    const char* suffix = level ? "_hourly" : "";
    auto counts = conn_.exec(
        fmt::format("INSERT INTO rollup_counts{0} (stream, minute, type, d1, d2, d3, count) "
                    "SELECT $1, minute, type, d1, d2, d3, count FROM staged_counts WHERE level = "
                    "{1} ON CONFLICT (stream, minute, type, d1, d2, d3) DO UPDATE SET count = "
                    "rollup_counts{0}.count + excluded.count",
                    suffix, level),
        {stream}, "rollup");
    if (!counts) return counts.error();
    auto lag =
        conn_.exec(fmt::format("INSERT INTO rollup_lag{0} (stream, minute, bucket, count) "
                               "SELECT $1, minute, bucket, count FROM staged_lag WHERE level = {1} "
                               "ON CONFLICT (stream, minute, bucket) DO UPDATE SET count = "
                               "rollup_lag{0}.count + excluded.count",
                               suffix, level),
                   {stream}, "rollup");
    if (!lag) return lag.error();
  }
  // The staged rows go at commit; a recount adds several chunks in one transaction.
  if (auto cleared = conn_.exec("DELETE FROM staged_counts; DELETE FROM staged_lag", "rollup");
      !cleared) {
    return cleared;
  }
  batch.clear();
  return boost::outcome_v2::success();
}

}  // namespace sluice::store
