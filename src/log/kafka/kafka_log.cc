#include "log/kafka/kafka_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "core/event.h"
#include "core/logging.h"
#include "log/kafka/kafka_wire.h"
#include "log/log_format.h"

namespace sluice::log {
namespace {

constexpr int kMetadataTimeoutMs = 10'000;
constexpr int kQueryTimeoutMs = 5'000;
// Purged messages' delivery reports are queued locally: serving them takes no broker.
constexpr int kPurgedReportsWaitMs = 1'000;

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(fmt::format("Kafka setting {}={}: {}", name, value, error));
  }
}

struct PartitionList {
  explicit PartitionList(const std::string& topic, std::int32_t partition, std::int64_t offset)
      : list(rd_kafka_topic_partition_list_new(1)) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  }
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  rd_kafka_topic_partition_t& first() { return list->elems[0]; }
  rd_kafka_topic_partition_list_t* list;
};

Error kafka_error(rd_kafka_resp_err_t err, const std::string& what) {
  return make_error(Errc::kUnavailable, fmt::format("{}: {}", what, rd_kafka_err2str(err)));
}

// What the delivery reports of one append are collected in. Owned by its messages: the last
// report (or the producing thread, if it takes the last count) deletes it. The append is
// answered once: when the last report is in, or at once when producing failed (the messages
// already queued may still be delivered; the request was not acknowledged either way).
struct AppendState {
  struct Counters {
    std::atomic<std::uint64_t>& appends;
    std::atomic<std::uint64_t>& failed;
    std::atomic<std::uint64_t>& bytes;
    FailureReporter& reporter;
    std::string where;
  };

  AppendState(std::size_t count, std::uint64_t size, Log::AppendDone callback,
              std::function<void()>* durable, Counters counters)
      : remaining(static_cast<std::int64_t>(count)),
        bytes(size),
        done(std::move(callback)),
        on_durable(durable),
        counters(std::move(counters)) {}

  // Counts `n` messages as finished; answers (if not yet) and deletes itself when none remain.
  void finish(std::int64_t n) {
    if (remaining.fetch_sub(n) != n) return;
    answer();
    delete this;
  }

  // Calls `done` with the outcome, the first time only.
  void answer() {
    if (answered.exchange(true)) return;
    std::unique_lock lock(mutex);
    std::optional<Error> failure = error;
    lock.unlock();
    if (failure) {
      counters.failed.fetch_add(1, std::memory_order_relaxed);
      counters.reporter.failed(counters.where, failure->message);
      done(*failure);
    } else {
      counters.appends.fetch_add(1, std::memory_order_relaxed);
      counters.bytes.fetch_add(bytes, std::memory_order_relaxed);
      counters.reporter.succeeded(counters.where);
      done(first);
      if (on_durable && *on_durable) (*on_durable)();
    }
  }

  void fail(Error e) {
    std::lock_guard lock(mutex);
    if (!error) error = std::move(e);
  }

  std::atomic<std::int64_t> remaining;
  std::atomic<bool> answered{false};
  std::uint64_t bytes;
  std::mutex mutex;
  std::optional<Error> error;
  Offset first = std::numeric_limits<Offset>::max();
  Log::AppendDone done;
  std::function<void()>* on_durable;
  Counters counters;
};

}  // namespace

struct KafkaLog::Reader {
  KafkaPtr consumer;
  std::mutex mutex;
  bool assigned = false;
  Offset position = 0;  // the offset the consumer will return next
};

KafkaLog::KafkaPtr KafkaLog::make_client(rd_kafka_type_t type, const std::string& group,
                                         void* member) const {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", config_.brokers);
  set(conf, "client.id", "sluice");
  if (type == RD_KAFKA_PRODUCER) {
    set(conf, "acks", "all");
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", std::to_string(config_.linger.count()));
    set(conf, "compression.codec", config_.compression);
    set(conf, "message.timeout.ms", std::to_string(config_.delivery_timeout.count()));
    set(conf, "queue.buffering.max.kbytes",
        std::to_string(std::min<std::uint64_t>(config_.max_in_flight_bytes / 1024, 2'097'151)));
    set(conf, "queue.buffering.max.messages", "2147483647");
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaLog::on_delivery);
  } else {
    set(conf, "group.id", config_.group_prefix + group);
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    // A reader follows one partition and is asked for a batch at a time: a few megabytes
    // fetched ahead keep it busy (1 MiB made a processor drain 15 % slower). librdkafka's
    // default, 64 MiB per client with one client per partition and consumer, cost a processor
    // 235 MB at its peak instead of 160 and a quarter more CPU, most of it faulting in and
    // handing back the pages of the buffers it prefetched into.
    set(conf, "queued.max.messages.kbytes", "4096");
  }
  if (member) {
    // A group member: it only takes part in the group protocol; reads go through the readers.
    const auto session = config_.session_timeout.count();
    set(conf, "partition.assignment.strategy", "cooperative-sticky");
    set(conf, "session.timeout.ms", std::to_string(session));
    // Members learn of a rebalance at their next heartbeat, so it bounds how long a process
    // that leaves keeps its partitions from the others.
    set(conf, "heartbeat.interval.ms", std::to_string(std::clamp<long>(session / 5, 100, 500)));
    // Positions are stored and librdkafka's timer commits them, only while the group is
    // steady: a commit sent during a rebalance carries the old generation, and librdkafka
    // answers the brokers' refusal by giving up every partition this member holds, so one
    // process leaving would stop all the others for a second rebalance.
    set(conf, "enable.auto.commit", "true");
    set(conf, "auto.commit.interval.ms", "1000");
    kafka_member_configure(conf, member);
  }
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create a Kafka client: ") + error);
  }
  if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
  return KafkaPtr(rk);
}

KafkaLog::KafkaLog(const KafkaConfig& config, const std::vector<StreamSpec>& streams)
    : config_(config) {
  producer_ = make_client(RD_KAFKA_PRODUCER, "");
  for (const auto& spec : streams) {
    partition_counts_[spec.name] = spec.partitions;
    topics_[spec.name] = spec.topic.empty() ? config_.topic_prefix + spec.name : spec.topic;
  }
  ensure_topics(streams);
  poller_ = std::thread([this] {
    while (!closing_.load())
      rd_kafka_poll(producer_.get(), 100);
  });
  logger("log")->info("kafka brokers={} topics={}", config_.brokers, streams.size());
}

KafkaLog::~KafkaLog() {
  close();
  std::lock_guard lock(readers_mutex_);
  for (auto& [key, reader] : readers_)
    rd_kafka_consumer_close(reader->consumer.get());
  readers_.clear();
  std::lock_guard groups_lock(groups_mutex_);
  for (auto& [name, client] : groups_)
    rd_kafka_consumer_close(client.get());
  groups_.clear();
}

void KafkaLog::ensure_topics(const std::vector<StreamSpec>& streams) {
  const rd_kafka_metadata_t* metadata = nullptr;
  auto err = rd_kafka_metadata(producer_.get(), 1, nullptr, &metadata, kMetadataTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format("cannot reach the Kafka brokers {}: {}", config_.brokers,
                                         rd_kafka_err2str(err)));
  }
  std::map<std::string, int> existing;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    existing[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);

  std::vector<rd_kafka_NewTopic_t*> missing;
  std::string missing_names;
  for (const auto& spec : streams) {
    auto it = existing.find(topic(spec.name));
    if (it == existing.end()) {
      char error[512];
      missing.push_back(rd_kafka_NewTopic_new(topic(spec.name).c_str(),
                                              static_cast<int>(spec.partitions),
                                              config_.replication_factor, error, sizeof(error)));
      if (!missing.back()) throw std::runtime_error(std::string("Kafka topic: ") + error);
      missing_names += (missing_names.empty() ? "" : ", ") + topic(spec.name);
    } else if (it->second < static_cast<int>(spec.partitions)) {
      throw std::runtime_error(
          fmt::format("Kafka topic {} has {} partitions but stream {} is configured with {}",
                      it->first, it->second, spec.name, spec.partitions));
    } else if (!spec.topic.empty() && it->second != static_cast<int>(spec.partitions)) {
      // Other producers write every partition of their topic: reading fewer would miss events.
      throw std::runtime_error(fmt::format(
          "Kafka topic {} has {} partitions: set streams.{}.partitions to {} to read them all",
          it->first, it->second, spec.name, it->second));
    }
  }
  if (missing.empty()) return;
  rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
  rd_kafka_CreateTopics(producer_.get(), missing.data(), missing.size(), nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kMetadataTimeoutMs);
  std::string problem;
  if (!event) {
    problem = "no answer";
  } else if (rd_kafka_event_error(event)) {
    problem = rd_kafka_event_error_string(event);
  } else if (const auto* result = rd_kafka_event_CreateTopics_result(event)) {
    std::size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
    for (std::size_t i = 0; i < count; ++i) {
      auto topic_err = rd_kafka_topic_result_error(topics[i]);
      if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR &&
          topic_err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        problem += fmt::format("{}: {} ", rd_kafka_topic_result_name(topics[i]),
                               rd_kafka_err2str(topic_err));
      }
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy_array(missing.data(), missing.size());
  if (!problem.empty()) {
    throw std::runtime_error(
        fmt::format("cannot create Kafka topics {}: {}", missing_names, problem));
  }
}

void KafkaLog::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  auto* state = static_cast<AppendState*>(message->_private);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    state->fail(kafka_error(message->err, "the Kafka brokers did not take the event"));
  } else {
    std::lock_guard lock(state->mutex);
    state->first = std::min(state->first, static_cast<Offset>(message->offset));
  }
  state->finish(1);
}

void KafkaLog::append(const Partition& partition, RecordBatch batch, AppendDone done) {
  if (closing_.load()) {
    done(make_error(Errc::kUnavailable, "the log is shutting down"));
    return;
  }
  auto count = partition_counts_.find(partition.stream);
  if (count == partition_counts_.end() || partition.index >= count->second) {
    done(unknown_partition(partition));
    return;
  }
  batch.seal();
  const std::string_view frame = batch.frame();
  auto header = parse_frame_header(frame);
  const std::string topic_name = topic(partition.stream);
  auto* state =
      new AppendState(batch.count(), frame.size() - kFrameHeaderSize, std::move(done), &on_durable_,
                      {appends_, failed_appends_, bytes_, failures_, topic_name});
  std::int64_t produced = 0;
  bool failed_to_produce = false;
  walk_frame_body(*header, frame.substr(kFrameHeaderSize), [&](std::string_view record) {
    if (failed_to_produce) return;  // the first failure answers the request; stop producing
    auto event = decode_event(record);
    const std::string_view key = event->key.value_or(event->id);
    rd_kafka_headers_t* headers = kafka_wire::headers_for(*event, partition.stream);
    auto err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()),
        RD_KAFKA_V_PARTITION(static_cast<std::int32_t>(partition.index)),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(event->payload.data()), event->payload.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(event->ts_ms),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(state), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++produced;
      return;
    }
    rd_kafka_headers_destroy(headers);  // the message took them only if producing worked
    failed_to_produce = true;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      state->fail(make_error(Errc::kUnavailable,
                             "too many events are waiting for the Kafka brokers "
                             "(log.kafka.max_in_flight_bytes)"));
    } else {
      state->fail(kafka_error(err, "cannot produce to Kafka"));
    }
  });
  // A producing failure (queue full) is answered now, not after the queued part's reports.
  if (failed_to_produce) state->answer();
  // Messages never produced get no delivery report: count them as finished here.
  state->finish(static_cast<std::int64_t>(batch.count()) - produced);
}

Result<ReadBatch> KafkaLog::read(const Partition& partition, Offset from, std::size_t max_records) {
  if (partitions(partition.stream) <= partition.index) {
    return unknown_partition(partition);
  }
  std::shared_ptr<Reader> reader;
  {
    std::lock_guard lock(readers_mutex_);
    auto& slot = readers_[{partition, std::this_thread::get_id()}];
    if (!slot) {
      slot = std::make_shared<Reader>();
      slot->consumer = make_client(RD_KAFKA_CONSUMER, "sluice-reader");
    }
    reader = slot;
  }
  std::lock_guard lock(reader->mutex);
  const std::string topic_name = topic(partition.stream);
  if (!reader->assigned || reader->position != from) {
    PartitionList list(topic_name, static_cast<std::int32_t>(partition.index),
                       static_cast<std::int64_t>(from));
    auto err = rd_kafka_assign(reader->consumer.get(), list.list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, "cannot read from Kafka");
    reader->assigned = true;
    reader->position = from;
  }
  ReadBatch out;
  out.next_offset = from;
  std::string& buffer = out.buffers.emplace_back();
  std::vector<std::pair<Offset, std::pair<std::size_t, std::size_t>>> spans;
  int timeout_ms = 20;  // wait briefly for the first message only
  for (std::size_t consumed = 0; consumed < max_records; ++consumed) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(reader->consumer.get(), timeout_ms);
    if (!message) break;
    timeout_ms = 0;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(message);
      break;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Error error = kafka_error(message->err, "cannot read from Kafka");
      rd_kafka_message_destroy(message);
      reader->assigned = false;
      return error;
    }
    const auto offset = static_cast<Offset>(message->offset);
    const std::size_t start = buffer.size();
    const bool taken = take(partition, *message, buffer);
    rd_kafka_message_destroy(message);
    reader->position = offset + 1;
    if (taken) {
      spans.push_back({offset, {start, buffer.size() - start}});
    } else if (spans.empty()) {
      ++out.skipped;
      out.next_offset = offset + 1;
    } else {
      // ReadBatch::skipped counts records before the first one read: this one is skipped by
      // the next read, which begins here.
      reader->assigned = false;
      break;
    }
  }
  for (const auto& [offset, span] : spans) {
    out.records.push_back({offset, std::string_view(buffer).substr(span.first, span.second)});
  }
  if (!out.records.empty()) out.next_offset = out.records.back().offset + 1;
  return out;
}

bool KafkaLog::take(const Partition& partition, const rd_kafka_message_t& message,
                    std::string& buffer) {
  std::string problem;
  switch (kafka_wire::decode(message, buffer)) {
    case kafka_wire::Kind::kEvent:
      return true;
    case kafka_wire::Kind::kBroken:
      problem =
          "it has Sluice's format header but its envelope headers are missing or "
          "malformed, or its format is newer than this version reads";
      break;
    case kafka_wire::Kind::kForeign: {
      auto reader = foreign_readers_.find(partition.stream);
      if (reader == foreign_readers_.end()) {
        problem = "it is not a Sluice record and this process reads no other producers' records";
        break;
      }
      rd_kafka_timestamp_type_t type;
      const std::int64_t timestamp = rd_kafka_message_timestamp(&message, &type);
      const ForeignRecord record{
          .topic = topics_.at(partition.stream),
          .partition = partition.index,
          .offset = static_cast<Offset>(message.offset),
          .timestamp_ms = timestamp >= 0 ? std::optional<std::int64_t>(timestamp) : std::nullopt,
          .key = std::string_view(static_cast<const char*>(message.key),
                                  message.key ? message.key_len : 0),
          .value = std::string_view(static_cast<const char*>(message.payload),
                                    message.payload ? message.len : 0)};
      const std::size_t start = buffer.size();
      auto made = reader->second(record, buffer);
      if (made) return true;
      buffer.resize(start);
      problem = made.error().message;
      break;
    }
  }
  const auto offset = static_cast<Offset>(message.offset);
  std::lock_guard lock(unreadable_mutex_);
  auto last = last_unreadable_.find(partition);
  if (last != last_unreadable_.end() && offset <= last->second) return false;
  last_unreadable_[partition] = offset;
  ++unreadable_[partition.stream];
  logger("log")->warn("kafka record skipped topic={} partition={} offset={} reason=\"{}\"",
                      topics_.at(partition.stream), partition.index, offset, problem);
  return false;
}

Offset KafkaLog::end_offset(const Partition& partition) const {
  // While the brokers are away, the last known end answers at once: lag, metrics and status
  // pages would otherwise wait kQueryTimeoutMs per partition.
  // Appends failing say the same, before any query had to fail.
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(end_offsets_mutex_);
    if (now < unreachable_until_ || !failures_.failing().empty()) {
      return known_end_offsets_[partition];
    }
  }
  std::int64_t low = 0, high = 0;
  auto err = rd_kafka_query_watermark_offsets(producer_.get(), topic(partition.stream).c_str(),
                                              static_cast<std::int32_t>(partition.index), &low,
                                              &high, kQueryTimeoutMs);
  std::lock_guard lock(end_offsets_mutex_);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    unreachable_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    return known_end_offsets_[partition];
  }
  known_end_offsets_[partition] = static_cast<Offset>(high);
  return static_cast<Offset>(high);
}

std::vector<std::string> KafkaLog::streams() const {
  std::vector<std::string> names;
  names.reserve(partition_counts_.size());
  for (const auto& [name, count] : partition_counts_)
    names.push_back(name);
  return names;
}

std::uint32_t KafkaLog::partitions(const std::string& stream) const {
  auto it = partition_counts_.find(stream);
  return it == partition_counts_.end() ? 0 : it->second;
}

rd_kafka_t* KafkaLog::group_client(const std::string& group) const {
  std::lock_guard lock(groups_mutex_);
  // Brokers refuse commits from outside a group that has members: a member commits its own.
  if (auto member = members_.find(group); member != members_.end()) return member->second;
  auto& client = groups_[group];
  if (!client) client = make_client(RD_KAFKA_CONSUMER, group);
  return client.get();
}

Result<void> KafkaLog::commit(const std::string& group, const Partition& partition,
                              Offset next_offset) {
  if (partitions(partition.stream) <= partition.index) {
    return unknown_partition(partition);
  }
  PartitionList list(topic(partition.stream), static_cast<std::int32_t>(partition.index),
                     static_cast<std::int64_t>(next_offset));
  auto err = rd_kafka_commit(group_client(group), list.list, 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, "cannot commit to Kafka");
  return boost::outcome_v2::success();
}

Result<std::optional<Offset>> KafkaLog::committed(const std::string& group,
                                                  const Partition& partition) const {
  if (partitions(partition.stream) <= partition.index) {
    return unknown_partition(partition);
  }
  PartitionList list(topic(partition.stream), static_cast<std::int32_t>(partition.index),
                     RD_KAFKA_OFFSET_INVALID);
  auto err = rd_kafka_committed(group_client(group), list.list, kQueryTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, "cannot read Kafka offsets");
  if (list.first().err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_error(list.first().err, "cannot read Kafka offsets");
  }
  if (list.first().offset < 0) return std::optional<Offset>();
  return std::optional<Offset>(static_cast<Offset>(list.first().offset));
}

LogStats KafkaLog::stats() const {
  return LogStats{.appends = appends_.load(std::memory_order_relaxed),
                  .failed_appends = failed_appends_.load(std::memory_order_relaxed),
                  .bytes = bytes_.load(std::memory_order_relaxed),
                  .in_flight = static_cast<std::uint64_t>(rd_kafka_outq_len(producer_.get())),
                  .unreadable = unreadable_copy(),
                  .failing = failures_.failing()};
}

std::map<std::string, std::uint64_t> KafkaLog::unreadable_copy() const {
  std::lock_guard lock(unreadable_mutex_);
  return unreadable_;
}

void KafkaLog::set_foreign_reader(const std::string& stream, ForeignReader reader) {
  foreign_readers_[stream] = std::move(reader);
}

void KafkaLog::enrol(const std::string& group, rd_kafka_t* member) {
  std::lock_guard lock(groups_mutex_);
  if (member) {
    members_[group] = member;
  } else {
    members_.erase(group);
  }
}

std::optional<Partition> KafkaLog::partition_of(std::string_view topic_name,
                                                std::int32_t index) const {
  for (const auto& [stream, name] : topics_) {
    if (name == topic_name) return Partition(stream, static_cast<std::uint32_t>(index));
  }
  return std::nullopt;
}

std::string KafkaLog::topic(const std::string& stream) const {
  auto it = topics_.find(stream);
  return it == topics_.end() ? config_.topic_prefix + stream : it->second;
}

void KafkaLog::set_on_durable(std::function<void()> callback) {
  on_durable_ = std::move(callback);
}

void KafkaLog::close() {
  if (closing_.exchange(true)) return;
  if (poller_.joinable()) poller_.join();
  // Wait for the delivery reports of what is in flight (bounded by the delivery timeout).
  rd_kafka_flush(producer_.get(), static_cast<int>(config_.delivery_timeout.count()));
  // What the brokers have still not taken fails rather than staying unanswered: purged
  // messages get delivery reports (RD_KAFKA_RESP_ERR__PURGE_*), which the flush serves.
  if (rd_kafka_outq_len(producer_.get()) > 0) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_.get(), kPurgedReportsWaitMs);
  }
}

}  // namespace sluice::log
