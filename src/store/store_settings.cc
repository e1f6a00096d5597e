#include "store/store_settings.h"

#include "store/pg_connection.h"

namespace sluice::store {

namespace {

std::optional<std::string> check_store_url(const config::Scalar& v) {
  if (v.text.empty() || v.text.starts_with("postgresql://") || v.text.starts_with("postgres://")) {
    return std::nullopt;
  }
  return "\"" + v.text +
         "\" is not a PostgreSQL URL (postgresql://…); leave it empty for the "
         "embedded SQLite store";
}

std::optional<std::string> check_schema_name(const config::Scalar& v) {
  if (pg::plain_identifier(v.text)) return std::nullopt;
  return "\"" + v.text +
         "\" is not a schema name: lower-case letters, digits and _, not "
         "starting with a digit, at most 63";
}

}  // namespace

const config::Table& store_table() {
  static const config::Table table{
      "store",
      "The store that the processor fills from the log and the query API reads: the embedded "
      "SQLite file, or a PostgreSQL database shared by API replicas.",
      {
          config::string_setting(
              "url", &StoreConfig::url, "",
              "A PostgreSQL connection URL (`postgresql://user@host:5432/db`, "
              "`${PG_PASSWORD}` expanded from the environment) to keep the store in "
              "that database; empty: the embedded SQLite file (`path`).",
              check_store_url),
          config::string_setting("schema", &StoreConfig::schema, "sluice",
                                 "PostgreSQL: the schema of the store's tables, created if missing "
                                 "(lower-case letters, digits and _).",
                                 check_schema_name),
          config::string_setting("path", &StoreConfig::path, "",
                                 "SQLite database file; empty means `<data_dir>/sluice.db`."),
          config::int_setting("batch_max_events", &StoreConfig::batch_max_events, 5000, 1,
                              1'000'000, "Most events the processor writes in one transaction."),
          config::duration_setting(
              "batch_max_wait", &StoreConfig::batch_max_wait, "10ms", 0, 10'000,
              "After writing a partial batch the processor waits this long for more "
              "events before the next transaction (a full batch goes on at once). "
              "The time after its 202 until an event shows in queries is at most "
              "about this much more."),
          config::duration_setting(
              "query_timeout", &StoreConfig::query_timeout, "10s", 0, 3'600'000,
              "A read query (the query API, statistics, dead letters, alerts) that "
              "runs longer is stopped and answered 503 naming this setting, so no "
              "request can hold a read connection for long. 0: no limit."),
          config::int_setting(
              "read_connections", &StoreConfig::read_connections, 4, 1, 64,
              "Database connections kept open for queries, and as many threads to run them "
              "on (a query never holds up an HTTP I/O thread)."),
      }};
  return table;
}

}  // namespace sluice::store
