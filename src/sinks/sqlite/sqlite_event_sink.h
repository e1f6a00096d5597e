#pragma once
// sqlite: a pipeline's events in a SQLite database table, exactly once. Each batch's rows and
// the pipeline's log positions are written in one transaction; rows are unique per
// (stream, id), so a client's retry with the same id is stored once (the first copy wins, or
// the last with the pipeline's `upsert`).
//
// The table has the store's columns (docs/ARCHITECTURE.md): seq, stream, id, ts, received_at,
// key, type, payload. Positions are kept in `sluice_positions` of the same database.

#include <memory>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"
#include "store/sqlite_db.h"

namespace sluice::sinks {

class SqliteEventSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string path;
    std::string table;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  SqliteEventSink(const std::string& path, const std::string& table, bool upsert);

  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;
  Result<std::optional<pipeline::Positions>> stored_positions(const std::string& consumer) override;
  bool transactional() const override { return true; }

 private:
  sqlite::Db db_;
  sqlite::Stmt insert_;
  sqlite::Stmt upsert_position_;
};

}  // namespace sluice::sinks
