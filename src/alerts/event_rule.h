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

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "core/worker.h"
#include "expr/expression.h"
#include "log/log.h"
#include "windows/outbox.h"
#include "windows/window_store.h"

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

class EventRuleJob : public Worker {
 public:
  EventRuleJob(AlertConfig config, log::Log& log, std::string store_path,
               StreamConfig alerts_stream);
  ~EventRuleJob() override;  // stops after the batch in progress, with a last checkpoint

  void start() { start_thread("sluice-alert"); }
  EventRuleStatus status() const;

 private:
  struct KeyState {
    std::int64_t last_alert_ms = 0;  // event time of the key's last alert
    std::uint64_t suppressed = 0;    // matches since, inside the cooldown
  };

  void run() override;
  Result<void> restore();
  Result<bool> read_once();
  void check(const log::Partition& partition, const EventView& envelope,
             const boost::json::value& event);
  // Saves state, positions and the alerts decided, then appends those alerts to their stream.
  Result<void> checkpoint();
  std::string save_state() const;
  bool load_state(const std::string& text);
  void set_state(const char* state, const std::string& error = "");

  AlertConfig config_;
  log::Log& log_;
  std::string store_path_;
  std::string checkpoint_name_;  // alerts.<rule> in windows.db
  StreamConfig alerts_stream_;
  expr::Expression when_;
  std::unique_ptr<windows::WindowStore> store_;
  std::map<log::Partition, log::Offset> positions_;
  std::unordered_map<std::string, KeyState> keys_;
  std::map<std::string, std::int64_t> latest_ms_;  // latest event time read, by partition
  windows::Outbox outbox_;
  bool dirty_ = false;
  EventRuleStatus status_;  // guarded by mutex_
};

}  // namespace sluice::alerts
