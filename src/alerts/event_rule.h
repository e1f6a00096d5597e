#pragma once
// A per-event alert rule at work (docs/streaming.md#alerts): a thread that reads the rule's
// streams at its own positions, and for each event its condition holds for, raises an alert
// unless the event's key had one less than `cooldown` ago in event time.
//
// Alerts are exactly-once in the store whatever the order events of different partitions are
// read in: the alerts decided since the last checkpoint are saved with it (the cooldown state and
// the positions, in windows.db), and only then appended to the alerts stream. A crash before the
// checkpoint forgets the decisions along with the positions, and the replay decides again; a
// crash after it sends the saved alerts again on start, under the same ids, which the store keeps
// once.
//
// With its store in PostgreSQL on a log with consumer groups, the rule joins the group
// `alerts.<name>`: each process reads some of the partitions, with a checkpoint (and cooldowns)
// per partition, so the partitions move between processes with what the rule knew of them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "consume/checkpoint.h"
#include "consume/consumer.h"
#include "consume/outbox.h"
#include "expr/expression.h"
#include "log/log.h"

namespace sluice::alerts {

struct EventRuleStatus {
  std::string name;
  std::string state;  // starting, running, retrying, stopped
  std::uint64_t read = 0;
  std::uint64_t matched = 0;
  std::uint64_t alerts = 0;
  std::uint64_t suppressed = 0;
  std::size_t pending_alerts = 0;  // decided, not yet in the alerts stream
  std::uint64_t skipped = 0;       // deleted by retention before read (log.retention_policy)
  std::optional<std::uint64_t> lag;
  std::string last_error;
};

class EventRuleJob : private consume::Client {
 public:
  // Opens where its checkpoints are kept (windows.db): on the rule's thread, retried there.
  using OpenStore = std::function<std::unique_ptr<consume::CheckpointStore>()>;

  // `in_group`: join the consumer group (the store is shared by the processes).
  EventRuleJob(AlertConfig config, log::Log& log, OpenStore open_store, StreamConfig alerts_stream,
               bool in_group = false);
  ~EventRuleJob() override;  // stops after the batch in progress, with a last checkpoint

  void start() { consumer_.start(); }
  void stop() { consumer_.stop(); }
  void notify() { consumer_.notify(); }
  EventRuleStatus status() const;

 private:
  struct KeyState {
    std::int64_t last_alert_ms = 0;  // event time of the key's last alert
    std::uint64_t suppressed = 0;    // matches since, inside the cooldown
  };
  // What the rule keeps, with one checkpoint: for every partition, or in a consumer group for
  // each partition held.
  struct Scope {
    std::unordered_map<std::string, KeyState> keys;
    std::map<std::string, std::int64_t> latest_ms;  // latest event time read, by partition
    consume::Outbox outbox;                         // alerts decided, not yet in their stream
    bool dirty = false;
  };

  Result<consume::Positions> restore(const std::vector<log::Partition>& partitions) override;
  void release(const std::vector<log::Partition>& partitions) override;
  void started() override;
  bool wants_records() override;
  Result<consume::Handled> handle(const log::Partition& partition, log::Offset from,
                                  const log::ReadBatch& batch) override;
  void pass_done(bool read_any) override;
  Result<void> after_pass(bool stopping) override;
  void check(Scope& scope, const log::Partition& partition, const EventView& envelope,
             const boost::json::value& event);
  // Loads a scope's checkpoint; its positions.
  Result<consume::Positions> restore_scope(const std::string& name, Scope& scope);
  // Saves a scope's state, positions and the alerts decided, then appends those alerts to
  // their stream.
  Result<void> checkpoint(const std::string& name, Scope& scope);
  static std::string save_state(const Scope& scope);
  static bool load_state(const std::string& text, Scope& scope);
  // "" for the whole rule, else the partition's "stream/index".
  std::string scope_name(const log::Partition& partition) const;

  AlertConfig config_;
  log::Log& log_;
  OpenStore open_store_;
  std::string checkpoint_name_;  // alerts.<rule> in windows.db
  StreamConfig alerts_stream_;
  expr::Expression when_;
  std::unique_ptr<consume::CheckpointStore> store_;
  bool grouped_ = false;
  std::map<std::string, Scope> scopes_;  // by scope_name()
  std::chrono::steady_clock::time_point next_checkpoint_;
  mutable std::mutex mutex_;    // guards counts_
  EventRuleStatus counts_;      // matched, alerts, suppressed, pending_alerts
  consume::Consumer consumer_;  // last: its thread stops before the rest goes
};

}  // namespace sluice::alerts
