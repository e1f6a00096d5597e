#pragma once
// The consumer runtime: one thread that follows a set of streams in the log for one client
// (client.h). It restores the client's positions, reads each partition in batches and hands
// them over, keeps the positions and holds the log's retention at them, reports the records
// retention deleted before they were read, waits for news (notify) or lingers for a batch to
// fill, retries failures with backoff, and reports its state and lag. Stopped between batches.
// This is where partition assignment lives: the partitions a consumer reads are decided here.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "consume/backoff.h"
#include "consume/client.h"
#include "log/log.h"

namespace sluice::consume {

struct Options {
  // The consumer's name in the log: its retention holds and skipped counts ("store",
  // "pipeline.<name>", "windows.<name>", "alerts.<name>").
  std::string name;
  // How its log lines name it ("store", "pipeline=orders") and under which logger.
  std::string who;
  const char* logger = "consume";
  const char* thread = "sluice-consume";  // at most 15 characters
  std::vector<std::string> streams;
  std::size_t batch_events = 1000;  // read per partition and pass
  // After a pass that read less than a full batch: let the next one fill for this long (one
  // write of many events costs far less than many of a few). 0: the next pass at once.
  std::chrono::milliseconds linger{0};
  // The longest wait for news while nothing is new (it only bounds a missed wake-up).
  std::chrono::milliseconds quiet_wait{1000};
  Backoff backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(30'000)};
  // What its log says when a pass fails ("failed", "write failed").
  const char* pass_failure = "failed";
  // A failed checkpoint restores the last one (a client whose state moved on without it).
  bool restore_after_failed_checkpoint = false;
  // The client commits a partition's position with each batch (the store, pipelines): the
  // log's retention is held at each handled position. Otherwise the client calls hold() once
  // its checkpoint is saved.
  bool commits_per_batch = true;
  int nice = 0;  // the thread's niceness: > 0 yields the CPU to ingest under load
  // The consumer group to join (Log::join, log.kafka.consumer_groups): the group's members
  // share out the partitions of `streams`. Empty, or a log without groups: every partition.
  std::string group;
};

struct Progress {
  std::string state = "starting";  // starting, running, retrying, stopped
  std::string last_error;          // URLs redacted
  std::uint64_t read = 0;          // records handled since start
  std::uint64_t skipped = 0;       // deleted by retention before they were read
};

// A consumer's place in its consumer group, for status pages.
struct GroupView {
  std::string name;                        // the group (Options::group)
  std::string member;                      // this process's member id; empty until joined
  std::vector<log::Partition> partitions;  // held by this process
};

// `"group":null` or `"group":{"name":…,"member":…,"partitions":["stream/0",…]}` appended.
void append_group_json(std::string& out, const std::optional<GroupView>& group);

class Consumer : private log::GroupMember::Listener {
 public:
  // Holds the log's retention at the start of every partition until the positions are known.
  Consumer(Options options, log::Log& log, Client& client);
  ~Consumer() override;  // stop()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void start();
  void stop();    // after the batch in progress; waits for the thread
  void notify();  // new records are durable; any thread

  const Options& options() const { return options_; }
  Progress progress() const;
  // Each partition's position: 0 until the client's are known. In a group: the partitions
  // this process holds.
  Positions positions() const;
  // Its consumer group and what this process holds of it; nullopt outside a group.
  std::optional<GroupView> group() const;
  // Records in the log not handled yet; nullopt until the positions are known. In a group, the
  // whole group's (the other members' partitions as committed to the group).
  std::optional<std::uint64_t> lag() const;

  // For the client, on the consumer's thread.
  bool stopping() const;
  // Sleeps up to `for_how_long`, or until stop(); true when stopping.
  bool pause(std::chrono::milliseconds for_how_long);
  void set_state(const char* state, const std::string& error = "");
  void note_error(const std::string& error);  // shown as last_error, the state unchanged
  // Holds the log's retention at `positions` (any thread): what a saved checkpoint moved past.
  void hold(const Positions& positions);

 private:
  enum class Pass { kIdle, kPartial, kFull };
  void run();
  bool start_over();  // restores until it works; false when stopping first
  // Restores `partitions` until it works and reads them from then on; false when stopping.
  bool take(const std::vector<log::Partition>& partitions, bool replace);
  bool join();  // joins options_.group, if any, until it works; false when stopping first
  void assigned(const std::vector<log::Partition>& partitions) override;
  void revoked(const std::vector<log::Partition>& partitions) override;
  Result<Pass> read_pass();
  std::chrono::milliseconds fail(const char* what, const Error& error);

  Options options_;
  log::Log& log_;
  Client& client_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;  // bumped by notify()
  bool stopping_ = false;
  bool known_ = false;  // positions_ holds where the client is (0 for every partition before)
  Positions positions_;
  Progress progress_;
  std::string member_id_;
  bool grouped_ = false;                 // joined a group: the group assigns the partitions
  mutable Positions group_committed_;    // lag(): the group's last committed positions
  std::vector<log::Partition> pending_;  // assigned, not restored yet
  // The consumer's thread only:
  std::unique_ptr<log::GroupMember> member_;
  std::vector<log::Partition> owned_;  // the partitions read
  std::thread thread_;
};

// Copies what the runtime counts into a client's status (its fields state, last_error, read
// and skipped).
template <class Status>
void copy_progress(const Progress& progress, Status& status) {
  status.state = progress.state;
  status.last_error = progress.last_error;
  status.read = progress.read;
  status.skipped = progress.skipped;
}

}  // namespace sluice::consume
