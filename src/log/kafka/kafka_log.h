#pragma once
// The Kafka log: each stream is a topic (`log.kafka.topic_prefix` + stream) with the stream's
// partitions, on Apache Kafka or any Kafka-protocol broker, through librdkafka.
//
// Appends produce one message per event as JSON with the envelope in headers (kafka_wire.h),
// with acks=all and an idempotent producer; an append's callback runs when the delivery reports
// of all its messages are in. Reads take Sluice's records of this and earlier versions, and
// records other producers wrote, through the stream's ForeignReader. Messages waiting for the
// brokers are bounded by log.kafka.max_in_flight_bytes: past it, and when the brokers stay
// unreachable for log.kafka.delivery_timeout, appends fail with kUnavailable (HTTP 503).
//
// Reads use one consumer per partition, positioned explicitly (no group subscription), so the
// caller's offsets are the truth. Consumer group commits go to the brokers' group coordinator.
// Thread-safe.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "log/embedded/embedded_log.h"  // StreamSpec
#include "log/failure_reporter.h"
#include "log/foreign_record.h"
#include "log/log.h"
#include "log/log_settings.h"

namespace sluice::log {

// Sets a group member's callbacks on a client's configuration (kafka_group.cc).
void kafka_member_configure(rd_kafka_conf_t* conf, void* member);

class KafkaLog final : public Log {
 public:
  // Connects, and checks that each stream's topic exists with enough partitions (creating it
  // if missing). Throws std::runtime_error when that fails.
  KafkaLog(const KafkaConfig& config, const std::vector<StreamSpec>& streams);
  ~KafkaLog() override;

  void append(const Partition& partition, RecordBatch batch, AppendDone done) override;
  Result<ReadBatch> read(const Partition& partition, Offset from, std::size_t max_records) override;
  Offset end_offset(const Partition& partition) const override;
  std::vector<std::string> streams() const override;
  std::uint32_t partitions(const std::string& stream) const override;
  const char* backend() const override { return "kafka"; }
  LogStats stats() const override;
  Result<void> commit(const std::string& group, const Partition& partition,
                      Offset next_offset) override;
  Result<std::optional<Offset>> committed(const std::string& group,
                                          const Partition& partition) const override;
  void set_on_durable(std::function<void()> callback) override;
  void close() override;

  std::unique_ptr<GroupMember> join(const std::string& group,
                                    const std::vector<std::string>& streams) override;

  // How records of `stream` that another producer wrote become events. Without one they are
  // skipped. Set before reading.
  void set_foreign_reader(const std::string& stream, ForeignReader reader);
  // The topic `stream` lives in.
  std::string topic(const std::string& stream) const;

 private:
  struct Reader;  // a consumer assigned to one partition
  struct Handle {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  using KafkaPtr = std::unique_ptr<rd_kafka_t, Handle>;

  friend class KafkaGroupMember;
  // A client; `member`: a KafkaGroupMember the consumer's group events go to.
  KafkaPtr make_client(rd_kafka_type_t type, const std::string& group,
                       void* member = nullptr) const;
  // Registers (or, with nullptr, removes) the group's member in this process.
  void enrol(const std::string& group, rd_kafka_t* member);
  std::optional<Partition> partition_of(std::string_view topic_name, std::int32_t index) const;
  void ensure_topics(const std::vector<StreamSpec>& streams);
  // Appends one consumed message to `buffer` as a binary record; false: it is skipped.
  bool take(const Partition& partition, const rd_kafka_message_t& message, std::string& buffer);
  std::map<std::string, std::uint64_t> unreadable_copy() const;
  rd_kafka_t* group_client(const std::string& group) const;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  const KafkaConfig config_;
  std::map<std::string, std::uint32_t> partition_counts_;
  std::map<std::string, std::string> topics_;  // by stream
  std::map<std::string, ForeignReader> foreign_readers_;
  // Records skipped as unreadable, by stream; each partition's highest such offset so that
  // every consumer reading past the same record counts it once.
  mutable std::mutex unreadable_mutex_;
  std::map<std::string, std::uint64_t> unreadable_;
  std::map<Partition, Offset> last_unreadable_;
  KafkaPtr producer_;
  std::function<void()> on_durable_;
  std::atomic<bool> closing_{false};
  std::atomic<std::uint64_t> appends_{0}, failed_appends_{0}, bytes_{0};
  FailureReporter failures_;
  std::thread poller_;  // serves delivery reports

  // One consumer per partition and reading thread: the store's processor and each pipeline
  // read the same partitions at different positions, and a consumer shared between them was
  // re-assigned on every read, fetching almost nothing.
  mutable std::mutex readers_mutex_;
  std::map<std::pair<Partition, std::thread::id>, std::shared_ptr<Reader>> readers_;
  // end_offset(): the last offsets the brokers gave, and until when not to ask them again after
  // a query failed (the brokers are away: each query would wait its whole timeout).
  mutable std::mutex end_offsets_mutex_;
  mutable std::map<Partition, Offset> known_end_offsets_;
  mutable std::chrono::steady_clock::time_point unreachable_until_{};
  mutable std::mutex groups_mutex_;
  mutable std::map<std::string, KafkaPtr> groups_;
  std::map<std::string, rd_kafka_t*> members_;  // by group: this process's member
};

}  // namespace sluice::log
