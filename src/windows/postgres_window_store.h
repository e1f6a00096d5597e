#pragma once
// Window checkpoints and results in PostgreSQL (`storage.windows: postgresql://…`), for
// processes whose disk does not outlive them (containers) on the Kafka log. The same contract
// as windows.db: a checkpoint and the results closed since the previous one in one
// transaction.
//
//   sluice_window_results (window_name, key, start_ms, end_ms, events, value, final, updated_at)
//   sluice_window_checkpoints (window_name, definition, state, positions, outbox, taken_at)
//
// In a consumer group (partial_merge.h) each partition has its own checkpoint, claimed by the
// process that holds it, and the windows it closed wait as partials until they are merged:
//
//   sluice_window_partitions (window_name, part, definition, state, next_offset, epoch,
//                             closed_until, idle, open_from, taken_at)
//   sluice_window_partials (window_name, part, key, start_ms, end_ms, state)
//
// A claim raises the partition's epoch; a checkpoint is saved only while the epoch is still the
// one its process claimed, in the same transaction as its partials, so a process that lost the
// partition (a zombie) cannot write over its new holder's state.

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "windows/partial_merge.h"
#include "windows/window_store.h"

namespace sluice::windows {

class PostgresWindowStore : public WindowStore {
 public:
  explicit PostgresWindowStore(std::string url);  // throws std::runtime_error
  ~PostgresWindowStore() override;
  PostgresWindowStore(const PostgresWindowStore&) = delete;
  PostgresWindowStore& operator=(const PostgresWindowStore&) = delete;

  Result<std::optional<Checkpoint>> load(const std::string& window) override;
  Result<void> save(const std::string& window, const std::vector<WindowResult>& final_results,
                    const std::vector<WindowResult>& early_results,
                    const Checkpoint& checkpoint) override;
  Result<void> forget(const std::string& window) override;

  // One stored result, for GET /v1/windows/{name}.
  struct Row {
    std::string key;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    std::int64_t events = 0;
    std::string value;
    bool final = false;
  };
  // The last row of the previous page: (end, key, start).
  struct After {
    std::int64_t end_ms = 0;
    std::string key;
    std::int64_t start_ms = 0;
  };
  struct Filter {
    std::optional<std::string> key;
    std::optional<std::int64_t> from_ms, to_ms;
    std::optional<bool> final;
    int limit = 100;
    bool ascending = false;
    std::optional<After> after;
  };
  // Newest window first (or oldest, `ascending`); windows ending together by key, then start.
  Result<std::vector<Row>> results(const std::string& window, const Filter& filter);

  // A partition's checkpoint in a consumer group (postgres_window_partitions.cc).
  struct PartitionCheckpoint {
    std::string part;        // "stream/index"
    std::string definition;  // empty: never saved
    std::string state;
    log::Offset next = 0;
    std::int64_t epoch = 0;
    std::optional<std::int64_t> closed_until;
    bool idle = false;
    std::optional<std::int64_t> open_from;
  };
  // Takes the partition over: raises its epoch; its checkpoint as it was.
  Result<PartitionCheckpoint> claim(const std::string& window, const std::string& part);
  // Drops a partition's state and partials (its definition changed).
  Result<void> forget_partition(const std::string& window, const std::string& part);
  // Checkpoints and the partials they closed, in one transaction; refused (kUnavailable,
  // "no longer holds") when another process claimed one of the partitions since.
  Result<void> save_partitions(const std::string& window,
                               const std::vector<PartitionCheckpoint>& checkpoints,
                               const std::vector<PartitionPartial>& partials);
  // Every partition's progress (no state).
  Result<std::vector<PartitionCheckpoint>> partitions(const std::string& window);
  // A merge: begin_merge takes the definition's merge lock in a transaction (false: another
  // process merges it now, nothing begun); then the partials that may be final, and the final
  // results stored with those partials deleted, committed. abort_merge rolls back.
  Result<bool> begin_merge(const std::string& window);
  Result<std::vector<PartitionPartial>> merge_candidates(const std::string& window, bool sessions,
                                                         std::int64_t until);
  Result<void> finish_merge(const std::string& window, const Merged& merged);
  void abort_merge();

 private:
  // Connected (again, after a lost connection) and the tables made; the error otherwise.
  Result<void> connect();
  // Runs a statement with text parameters; the error names `what`.
  Result<void> exec(const char* sql, const std::vector<std::string>& params,
                    const std::string& what);
  // Upserts results (final or early) in the transaction in progress.
  Result<void> upsert_results(const std::string& window,
                              const std::vector<WindowResult>& final_results,
                              const std::vector<WindowResult>& early_results);
  // Runs a query with text parameters; its rows, or the error naming `what`.
  Result<std::vector<std::vector<std::optional<std::string>>>> query(
      const char* sql, const std::vector<std::optional<std::string>>& params,
      const std::string& what);

  std::string url_;
  PGconn* conn_ = nullptr;
};

}  // namespace sluice::windows
