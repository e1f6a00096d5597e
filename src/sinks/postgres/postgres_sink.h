#pragma once
// postgres: a pipeline's events in a PostgreSQL table, exactly once. Each batch is copied
// (COPY, binary format) straight into the table, or, when an id is already there (a client's
// retry), into a temporary table and inserted from there with ON CONFLICT (stream, id)
// DO NOTHING; the pipeline's positions are upserted into sluice_positions (store/positions.h)
// in the same transaction. The table and the positions table are created if missing.
//
// Connection failures and server shutdowns are retried (the pipeline pauses, shows its lag and
// catches up when the server is back); data errors (SQLSTATE classes 22 and 23, such as a
// payload jsonb refuses) reject the batch to the dead letters.

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class PostgresSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string url;
    std::string table;
    std::string payload_type;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  PostgresSink(Settings settings, bool upsert) : settings_(std::move(settings)), upsert_(upsert) {}
  ~PostgresSink() override;
  PostgresSink(const PostgresSink&) = delete;
  PostgresSink& operator=(const PostgresSink&) = delete;

  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;
  Result<std::optional<pipeline::Positions>> stored_positions(const std::string& consumer) override;
  Result<std::optional<pipeline::Positions>> claim(
      const std::string& consumer, const std::vector<log::Partition>& partitions) override;
  bool transactional() const override { return true; }

 private:
  // Connects (and creates the tables) if not connected; the error text otherwise.
  std::optional<std::string> connect();
  // Checks the table's column types against what the binary COPY sends; the mismatch otherwise.
  std::optional<std::string> check_columns();
  void disconnect();
  // Runs a statement without results; the failed result's outcome otherwise.
  std::optional<pipeline::WriteOutcome> exec(const std::string& sql);
  pipeline::WriteOutcome failure(PGresult* result, const std::string& what);
  // COPYs the batch's rows into `into` inside the open transaction. On a repeated id
  // (unique_violation) rolls back and sets `duplicate`; other failures are returned.
  std::optional<pipeline::WriteOutcome> copy_rows(const pipeline::SinkBatch& batch,
                                                  const std::string& into, bool& duplicate);

  // The batch with only the last event of each id (`out` holds them when some were dropped).
  static const pipeline::SinkBatch& last_of_each_id(const pipeline::SinkBatch& batch,
                                                    pipeline::SinkBatch& out);

  Settings settings_;
  pipeline::SinkBatch deduplicated_;
  std::map<log::Partition, std::string> epochs_;  // claimed: writes hold while they are the rows'
  bool upsert_ = false;  // the pipeline's `upsert`: newer rows replace stored ones
  PGconn* conn_ = nullptr;
  bool payload_is_jsonb_ = true;
};

}  // namespace sluice::sinks
