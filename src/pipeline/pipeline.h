#pragma once
// A pipeline (docs/pipelines.md): a thread that follows its streams in the log as its own
// consumer group ("pipeline.<name>"), runs each batch through its steps and hands it to each of
// its sinks, then commits its positions to the log. A failing sink is retried with backoff
// (honouring the sink's retry hint) and holds up its own pipeline only; a batch a sink rejects
// goes to the pipeline's dead-letter stream with the reason.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "consume/consumer.h"
#include "log/log.h"
#include "metrics/histogram.h"
#include "pipeline/sink.h"
#include "pipeline/transform.h"

namespace sluice::pipeline {

struct PipelineStatus {
  std::string name;
  std::vector<std::string> from;
  std::vector<std::string> to;
  std::string state;                // starting, running, retrying, stopped, failed
  std::uint64_t read = 0;           // events read from the log
  std::uint64_t dropped = 0;        // by steps
  std::uint64_t delivered = 0;      // event deliveries (an event to two sinks counts twice)
  std::uint64_t dead_lettered = 0;  // events in batches a sink rejected
  std::uint64_t retries = 0;
  std::uint64_t skipped = 0;  // deleted by retention before read (log.retention_policy)
  std::uint64_t lag = 0;      // events in the log not yet processed
  // How long the oldest waiting event has waited, estimated: 0 when caught up, else the time
  // since the newest event read was received or since nothing was left to read, whichever is
  // shorter.
  double lag_seconds = 0;
  std::string last_error;
  struct SinkTiming {
    std::string sink;
    metrics::HistogramSnapshot write_seconds;  // each write attempt, delivered or not
  };
  std::vector<SinkTiming> sinks;
  std::optional<consume::GroupView> group;  // on Kafka with consumer groups
};

// Events steps spawned while a batch is handled, and their ids; deques keep them in place.
struct Made {
  std::deque<PipelineEvent> events;
  std::deque<std::string> ids;
};

class Pipeline : private consume::Client {
 public:
  struct SinkSlot {
    std::string name;
    std::unique_ptr<Sink> sink;
  };

  Pipeline(PipelineConfig config, log::Log& log, std::vector<SinkSlot> sinks,
           std::vector<std::unique_ptr<Transform>> steps, std::optional<StreamConfig> dead_letter);
  // Stops after the batch in progress (a sink being retried is given up on for now).
  ~Pipeline() override;

  void start() { consumer_.start(); }
  void stop() { consumer_.stop(); }
  void notify() { consumer_.notify(); }
  PipelineStatus status() const;
  const std::string& name() const { return config_.name; }
  const PipelineConfig& config() const { return config_; }
  std::string group() const { return kConsumerPrefix + config_.name; }

 private:
  std::optional<consume::Positions> prepare() override;
  Result<consume::Positions> restore(const std::vector<log::Partition>& partitions) override;
  void started() override;
  Result<consume::Handled> handle(const log::Partition& partition, log::Offset from,
                                  const log::ReadBatch& batch) override;
  void nothing_new(const log::Partition& partition, log::Offset from) override;
  // The pipeline's committed positions in the log (a new pipeline's are committed at once).
  Result<consume::Positions> load_log_positions(const std::vector<log::Partition>& partitions);
  // Delivers to one sink, retrying until delivered or rejected; false if stopping first.
  bool deliver(std::size_t sink_index, const SinkBatch& batch);
  // Events a sink rejected (`place` "sink", `names` its name) or steps failed on ("step",
  // `names` each event's step, as steps[i].kind), each with its reason; one name or reason
  // stands for all. Appended to the dead-letter stream.
  Result<void> dead_letter(const std::vector<SinkRecord>& records, std::string_view place,
                           const std::vector<std::string>& names,
                           const std::vector<std::string_view>& reasons);
  // Runs `event` through the steps from `first` on: into `kept` when it comes out, `failed`
  // (with the step's index) when a step fails on it; the events a step spawns follow their
  // parent, held in `made`.
  void run_steps(PipelineEvent& event, std::size_t first, std::vector<PipelineEvent*>& kept,
                 std::vector<std::pair<PipelineEvent*, std::size_t>>& failed,
                 std::uint64_t& dropped, Made& made);

  PipelineConfig config_;
  log::Log& log_;
  std::vector<SinkSlot> sinks_;
  std::vector<std::unique_ptr<Transform>> steps_;
  std::optional<StreamConfig> dead_letter_;  // none: rejected events are logged and dropped

  std::optional<consume::Positions> log_positions_;                 // once loaded
  std::vector<std::map<log::Partition, log::Offset>> sink_stored_;  // transactional sinks'

  std::optional<std::string> fenced_;  // deliver(): why a sink refused the partition
  mutable std::mutex mutex_;           // guards the counters below
  PipelineStatus counts_;              // dropped, delivered, dead_lettered, retries
  std::chrono::steady_clock::time_point last_error_logged_{};
  std::unique_ptr<metrics::Histogram[]> write_latency_;  // per sink
  // For lag_seconds: when the newest event read was received, and when a pass last found
  // nothing left to read (milliseconds since the epoch).
  std::int64_t newest_read_received_ms_ = 0;
  std::int64_t caught_up_ms_ = 0;
  consume::Consumer consumer_;  // last: its thread stops before the rest goes
};

// The two halves of a rejected batch, to find the events at fault. The first half's positions
// stop at the second half's first events, so a transactional sink that stores them with the
// first half still reads the second half after a crash.
std::pair<SinkBatch, SinkBatch> split_in_half(const SinkBatch& batch);

}  // namespace sluice::pipeline
