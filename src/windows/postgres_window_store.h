#pragma once
// Window checkpoints and results in PostgreSQL (`storage.windows: postgresql://…`), for
// processes whose disk does not outlive them (containers) on the Kafka log. The same contract
// as windows.db: a checkpoint and the results closed since the previous one in one
// transaction.
//
//   sluice_window_results (window_name, key, start_ms, end_ms, events, value, final, updated_at)
//   sluice_window_checkpoints (window_name, definition, state, positions, outbox, taken_at)

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

 private:
  // Connected (again, after a lost connection) and the tables made; the error otherwise.
  Result<void> connect();
  // Runs a statement with text parameters; the error names `what`.
  Result<void> exec(const char* sql, const std::vector<std::string>& params,
                    const std::string& what);

  std::string url_;
  PGconn* conn_ = nullptr;
};

}  // namespace sluice::windows
