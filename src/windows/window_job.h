#pragma once
// A window definition at work (docs/streaming.md): a thread that reads its streams from the log
// at its own positions, keeps only the events its filter passes, feeds the window operator, and
// every `checkpoint_every` saves the operator's state, its positions and the results of the
// windows closed since the last time in one transaction (window_store.h). At start it restores
// the last checkpoint and reads on from its positions, so results after a crash are the results
// without one. Late events go to the `late` stream with the reason, under ids made from the
// window and the event's place in the log, so a replay stores each once.

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

#include "alerts/event_rule.h"
#include "config/config.h"
#include "core/worker.h"
#include "expr/expression.h"
#include "log/log.h"
#include "windows/field_projection.h"
#include "windows/outbox.h"
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
};

// The operator's definition from configuration (checked when the configuration loaded).
WindowSpec spec_of(const WindowConfig& config);

// An alert rule (alerts.<name>) over this definition's results.
struct AlertRule {
  std::string name;
  expr::Expression when;
  std::string severity;
  std::string message;
  StreamConfig stream;
};

class WindowJob : public Worker {
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

  void start() { start_thread("sluice-window"); }
  const WindowConfig& config() const { return config_; }
  WindowStatus status() const;

 private:
  // Its name where the log keeps what it still needs (retention).
  std::string consumer() const { return "windows." + config_.name; }
  void run() override;
  Result<void> restore();
  // Reads one batch of each partition; whether any had events.
  Result<bool> read_once();
  // With close_after_idle: once nothing has arrived for that long, the watermark follows the
  // clock from the latest event time.
  void close_if_quiet(std::chrono::steady_clock::time_point now);
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
  void set_state(const char* state, const std::string& error = "");

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
  std::map<log::Partition, log::Offset> positions_;
  std::map<log::Partition, std::chrono::steady_clock::time_point> last_event_;
  std::vector<WindowResult> pending_;  // closed since the last checkpoint
  std::set<std::tuple<std::string, std::string, std::int64_t>> fired_;  // early, still open
  // Late events and alerts wait here until the next checkpoint, which sends them first.
  Outbox outbox_;
  std::future<Result<void>> writing_;  // the checkpoint being written
  std::size_t writing_results_ = 0;    // its closed windows' results (guarded by mutex_)
  bool dirty_ = false;                 // state changed since the last checkpoint
  bool early_dirty_ = false;           // since the last early updates

  WindowStatus status_;  // guarded by mutex_
};

// Every window definition and per-event alert rule of a configuration.
// reload() (SIGHUP) starts added and changed ones and stops removed ones; the others run on.
class WindowSet {
 public:
  WindowSet(log::Log& log, std::string location) : log_(log), location_(std::move(location)) {}
  static std::unique_ptr<WindowSet> build(const Config& config, log::Log& log);
  void start();
  void stop();
  void notify();
  std::vector<WindowStatus> statuses() const;
  std::vector<alerts::EventRuleStatus> rule_statuses() const;
  // The window definition `name` as it runs now.
  std::optional<WindowConfig> find(const std::string& name) const;

  struct ReloadSummary {
    std::vector<std::string> added, changed, removed, unchanged;  // windows.x, alerts.y
  };
  ReloadSummary reload(const Config& config);

 private:
  // A window definition (with its rules) or a per-event rule, and what it was made from.
  struct Job {
    std::string fingerprint;
    std::unique_ptr<WindowJob> window;
    std::unique_ptr<alerts::EventRuleJob> rule;
    Worker& worker() { return window ? static_cast<Worker&>(*window) : *rule; }
    void start() { window ? window->start() : rule->start(); }
  };
  std::map<std::string, Job> jobs_of(const Config& config) const;

  log::Log& log_;
  const std::string location_;  // storage.windows: taken at start
  mutable std::mutex mutex_;    // guards jobs_ against statuses() and notify() during reload()
  std::map<std::string, Job> jobs_;
};

// {"windows":[{"name":..,"state":..,...}],"rules":[{"name":..,...}]} (rules: per-event alert
// rules).
std::string statuses_json(const std::vector<WindowStatus>& statuses,
                          const std::vector<alerts::EventRuleStatus>& rules = {});

}  // namespace sluice::windows
