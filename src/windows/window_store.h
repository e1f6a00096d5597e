#pragma once
// Where window definitions keep their checkpoints and results: a SQLite database
// (`<data_dir>/windows.db`), or PostgreSQL (`storage.windows`) when several processes or
// replaceable containers run them. A checkpoint (operator state and log positions) and the results
// of the windows closed since the previous one are written in one transaction, so after a crash the
// state, the positions and the results agree, and the replay from those positions writes the same
// results again (upserts by window, key and start).
//
//   window_results (window, key, start, end, events, value, final, updated_at)
//     key: the key values as a JSON array; value: the aggregates as a JSON object;
//     final: 0 for an early update of a window still open
//   window_checkpoints (window, definition, state, positions, outbox, taken_at)
//     window: a window definition's name, or `alerts.<rule>` for a per-event alert rule

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consume/checkpoint.h"
#include "core/result.h"
#include "log/log.h"
#include "store/sqlite_db.h"
#include "windows/window_operator.h"

namespace sluice::windows {

// A window's state is WindowOperator::save() as JSON.
using consume::Checkpoint;

class WindowStore : public consume::CheckpointStore {
 public:
  // Results (final or early) and the checkpoint, in one transaction.
  virtual Result<void> save(const std::string& window,
                            const std::vector<WindowResult>& final_results,
                            const std::vector<WindowResult>& early_results,
                            const Checkpoint& checkpoint) = 0;
  // Forgets a window's checkpoint and results (its definition changed).
  virtual Result<void> forget(const std::string& window) = 0;
  // A checkpoint without results (a per-event alert rule's).
  Result<void> save_checkpoint(const std::string& name, const Checkpoint& checkpoint) override {
    return save(name, {}, {}, checkpoint);
  }
};

// `location`: a PostgreSQL URL (postgres:// or postgresql://: postgres_window_store.h), else a
// SQLite file. Throws std::runtime_error when it cannot be opened.
std::unique_ptr<WindowStore> open_window_store(const std::string& location);
bool is_postgres_url(std::string_view location);

class SqliteWindowStore : public WindowStore {
 public:
  explicit SqliteWindowStore(const std::string& path);  // throws std::runtime_error

  Result<std::optional<Checkpoint>> load(const std::string& window) override;
  Result<void> save(const std::string& window, const std::vector<WindowResult>& final_results,
                    const std::vector<WindowResult>& early_results,
                    const Checkpoint& checkpoint) override;
  Result<void> forget(const std::string& window) override;

 private:
  Result<void> upsert(const std::string& window, const WindowResult& result, bool final,
                      std::int64_t now);

  sqlite::Db db_;
  sqlite::Stmt upsert_result_;
  sqlite::Stmt save_checkpoint_;
};

// Positions as stored: [["stream", partition, offset], ...].
std::string positions_json(const std::map<log::Partition, log::Offset>& positions);
Result<std::map<log::Partition, log::Offset>> parse_positions(std::string_view text,
                                                              const std::string& window);

}  // namespace sluice::windows
