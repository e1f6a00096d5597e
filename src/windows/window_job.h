#pragma once
// A window definition at work (docs/streaming.md): a thread that reads its streams from the log
// at its own positions, keeps only the events its filter passes, feeds the window operator, and
// every `checkpoint_every` saves the operator's state, its positions and the results of the
// windows closed since the last time in one transaction (window_store.h). At start it restores
// the last checkpoint and reads on from its positions, so results after a crash are the results
// without one. Late events go to the `late` stream with the reason, under ids made from the
// window and the event's place in the log, so a replay stores each once.
//
// With its store in PostgreSQL on a log with consumer groups, the definition joins the group
// `windows.<name>`: each process holds some of the partitions, with an operator and a checkpoint
// per partition, and the windows closed in every partition are merged into the results by
// whichever process gets to it first (partial_merge.h, window_job_group.cc).

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "consume/consumer.h"
#include "consume/outbox.h"
#include "expr/expression.h"
#include "log/log.h"
#include "windows/field_projection.h"
#include "windows/partial_merge.h"
#include "windows/postgres_window_store.h"
#include "windows/window_operator.h"
#include "windows/window_store.h"

namespace sluice::windows {

struct WindowStatus {
  std::string name;
  std::vector<std::string> from;
  std::string state;           // starting, running, retrying, stopped
  std::uint64_t read = 0;      // events read from the log since start
  std::uint64_t filtered = 0;  // of those, dropped by the filter
  std::uint64_t late = 0;
  std::uint64_t results = 0;        // final results stored since start
  std::size_t pending_results = 0;  // closed windows waiting for the next checkpoint
  std::uint64_t alerts = 0;         // alerts raised since start
  std::map<std::string, std::uint64_t> alerts_by_rule;  // the same, per rule over this window
  std::uint64_t skipped = 0;  // deleted by retention before read (log.retention_policy)
  std::size_t open_windows = 0;
  std::optional<std::int64_t> watermark_ms;
  std::optional<std::uint64_t> lag;  // events in the log not yet read; unknown while starting
  std::optional<std::int64_t> checkpoint_ms;
  std::string last_error;
  std::optional<consume::GroupView> group;  // in a consumer group: this process's share
};

// The aggregate that samples event ids for alerts, dropped from the results as stored.
inline constexpr std::string_view kEventIds = "_event_ids";

// An alert rule (alerts.<name>) over this definition's results.
struct AlertRule {
  std::string name;
  expr::Expression when;
  std::string severity;
  std::string message;
  StreamConfig stream;
};

class WindowJob : private consume::Client {
 public:
  WindowJob(WindowConfig config, log::Log& log, std::string store_path,
            std::optional<StreamConfig> late_stream, std::vector<AlertRule> rules,
            std::optional<StreamConfig> results_stream = std::nullopt);
  ~WindowJob() override;  // stops after the batch in progress, with a last checkpoint

  // How far ahead of its arrival each source stream's event time may be (streams.<name>.
  // max_future): no event moves a watermark past that. Set before start().
  void limit_future(std::map<std::string, std::int64_t> max_future_ms) {
    max_future_ms_ = std::move(max_future_ms);
  }

  void start() { consumer_.start(); }
  void stop() { consumer_.stop(); }
  void notify() { consumer_.notify(); }
  const WindowConfig& config() const { return config_; }
  WindowStatus status() const;

 private:
  Result<consume::Positions> restore(const std::vector<log::Partition>& partitions) override;
  void started() override;
  Result<consume::Handled> handle(const log::Partition& partition, log::Offset from,
                                  const log::ReadBatch& batch) override;
  void nothing_new(const log::Partition& partition, log::Offset from) override;
  void release(const std::vector<log::Partition>& partitions) override;
  // Closes what the pass made ready: results, alerts, published results.
  void pass_done(bool read_any) override;
  // Checkpoints and early updates when due.
  Result<void> after_pass(bool stopping) override;
  void finish() override;
  // With close_after_idle: once nothing has arrived for that long, the watermark follows the
  // clock from the latest event time.
  void close_if_quiet(WindowOperator& op, std::chrono::steady_clock::time_point last,
                      std::chrono::steady_clock::time_point now);
  // The operator that reads `partition`: the one of the definition, or in a group the
  // partition's own.
  WindowOperator& operator_for(const log::Partition& partition);

  // In a consumer group (window_job_group.cc).
  // Claims the partitions assigned and restores their checkpoints.
  Result<consume::Positions> restore_held(const std::vector<log::Partition>& partitions);
  // Takes each held partition's closed windows as partials.
  void close_held(std::chrono::steady_clock::time_point now, bool read_any);
  // The checkpoints of the held partitions among `positions`.
  std::vector<PostgresWindowStore::PartitionCheckpoint> held_checkpoints(
      const consume::Positions& positions) const;
  // Hands the held partitions' checkpoints and partials to the writer thread.
  Result<void> checkpoint_held();
  // Merges the windows every partition has closed into final results, with their alerts and
  // published results; idle partitions held here first close what the others have.
  Result<void> merge();
  // Raises the alerts whose rule holds for these results (early or final), once per rule, key
  // and window.
  void check_alerts(const std::vector<WindowResult>& results, bool final);
  // With `to`: each result (early or final) as an event of the results stream, whose id is the
  // window, key and start, for the results-<window> pipeline to upsert.
  void publish(const std::vector<WindowResult>& results, bool final);
  // Hands state, positions, results and outbox to a writer thread (one checkpoint in flight).
  Result<void> checkpoint(bool early_due);
  // Waits for the checkpoint in flight; its failure means reading again from the last one.
  Result<void> finish_writing();

  WindowConfig config_;
  log::Log& log_;
  std::string store_path_;
  std::optional<StreamConfig> late_stream_;
  std::vector<AlertRule> rules_;
  std::optional<StreamConfig> results_stream_;
  std::map<std::string, std::int64_t> max_future_ms_;  // by source stream
  // The definition's operator, plus a sample of event ids for alerts when rules watch it; and
  // what a checkpoint must have been taken with to be restored.
  WindowSpec spec_;
  std::string definition_;
  std::optional<expr::Expression> filter_;
  std::optional<FieldProjection> projection_;  // without a filter: only the fields used
  std::unique_ptr<WindowStore> store_;
  std::optional<WindowOperator> operator_;  // always set; emplaced anew on a restore
  std::map<log::Partition, std::chrono::steady_clock::time_point> last_event_;
  std::vector<WindowResult> pending_;  // closed since the last checkpoint
  std::set<std::tuple<std::string, std::string, std::int64_t>> fired_;  // early, still open
  // Late events and alerts wait here until the next checkpoint, which sends them first.
  consume::Outbox outbox_;
  std::future<Result<void>> writing_;  // the checkpoint being written
  std::size_t writing_results_ = 0;    // its closed windows' results (guarded by mutex_)
  bool dirty_ = false;                 // state changed since the last checkpoint
  bool early_dirty_ = false;           // since the last early updates
  std::chrono::steady_clock::time_point next_checkpoint_;
  std::chrono::steady_clock::time_point next_early_;

  // In a consumer group: the partitions this process holds, each with its operator and the
  // epoch it claimed the partition with; the windows they closed since the last checkpoint.
  struct Held {
    std::optional<WindowOperator> op;
    std::int64_t epoch = 0;
  };
  bool grouped_ = false;
  std::map<log::Partition, Held> held_;
  std::vector<PartitionPartial> partials_;
  std::unique_ptr<PostgresWindowStore> partition_store_;  // the writer thread's connection
  std::unique_ptr<PostgresWindowStore> merge_store_;      // the reading thread's
  std::chrono::steady_clock::time_point next_merge_;

  mutable std::mutex mutex_;    // guards status_ and writing_results_
  WindowStatus status_;         // what the consumer does not count
  consume::Consumer consumer_;  // last: its thread stops before the rest goes
};

}  // namespace sluice::windows
