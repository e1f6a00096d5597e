// Consumer group membership on Kafka (log.h, GroupMember): a consumer client subscribed to the
// group's topics with the cooperative-sticky assignor. It only takes part in the group protocol:
// the partitions it is given are paused at once, and the records are read through the log's
// per-partition readers at the positions the consumer keeps.

#include <fmt/format.h>

#include "core/logging.h"
#include "log/kafka/kafka_log.h"

namespace sluice::log {

class KafkaGroupMember final : public GroupMember {
 public:
  KafkaGroupMember(KafkaLog& log, std::string group) : log_(log), group_(std::move(group)) {}

  ~KafkaGroupMember() override {
    if (!client_) return;
    log_.enrol(group_, nullptr);
    rd_kafka_consumer_close(client_.get());  // revokes what is held, telling no one
  }

  void start(const std::vector<std::string>& streams) {
    client_ = log_.make_client(RD_KAFKA_CONSUMER, group_, this);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(streams.size()));
    for (const auto& stream : streams)
      rd_kafka_topic_partition_list_add(topics, log_.topic(stream).c_str(), RD_KAFKA_PARTITION_UA);
    const auto err = rd_kafka_subscribe(client_.get(), topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(
          fmt::format("cannot join Kafka group {}: {}", group_, rd_kafka_err2str(err)));
    }
    log_.enrol(group_, client_.get());
  }

  void poll(Listener& listener) override {
    listener_ = &listener;
    // Paused partitions deliver nothing: what comes is the group's events and errors.
    while (rd_kafka_message_t* message = rd_kafka_consumer_poll(client_.get(), 0)) {
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
          message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        logger("log")->warn("kafka group={} error=\"{}\"", group_,
                            rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
    }
    listener_ = nullptr;
  }

  void commit(const Partition& partition, Offset next_offset) override {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, log_.topic(partition.stream).c_str(),
                                      static_cast<std::int32_t>(partition.index))
        ->offset = static_cast<std::int64_t>(next_offset);
    // Stored for the timer's next commit; refused (and not needed) for a partition no longer
    // assigned here.
    rd_kafka_offsets_store(client_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
  }

  std::string id() const override {
    char* member = rd_kafka_memberid(client_.get());
    std::string out = member ? member : "";
    if (member) rd_kafka_mem_free(client_.get(), member);
    return out;
  }

  void leave(Listener& listener) override {
    listener_ = &listener;
    log_.enrol(group_, nullptr);
    rd_kafka_consumer_close(client_.get());
    listener_ = nullptr;
    client_.reset();
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* list, void* opaque) {
    static_cast<KafkaGroupMember*>(opaque)->rebalance(rk, err, list);
  }

 private:
  std::vector<Partition> partitions(const rd_kafka_topic_partition_list_t* list) const {
    std::vector<Partition> out;
    for (int i = 0; i < list->cnt; ++i) {
      if (auto p = log_.partition_of(list->elems[i].topic, list->elems[i].partition)) {
        // Only the partitions the stream is configured with: a topic may have more.
        if (p->index < log_.partitions(p->stream)) out.push_back(std::move(*p));
      }
    }
    return out;
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    const auto parts = partitions(list);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, list)) {
        logger("log")->error("kafka group={} cannot take partitions: {}", group_,
                             rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return;
      }
      rd_kafka_pause_partitions(rk, list);
      logger("log")->info("kafka group={} assigned={}", group_, describe(parts));
      if (listener_) listener_->assigned(parts);
      return;
    }
    // Revoked, or lost (this member was put out of the group): finish with them first.
    logger("log")->info("kafka group={} revoked={}{}", group_, describe(parts),
                        rd_kafka_assignment_lost(rk) ? " (lost)" : "");
    if (listener_) listener_->revoked(parts);
    if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, list)) {
      rd_kafka_error_destroy(error);
    }
  }

  static std::string describe(const std::vector<Partition>& parts) {
    std::string out;
    for (const auto& p : parts)
      out += fmt::format("{}{}/{}", out.empty() ? "" : ",", p.stream, p.index);
    return out.empty() ? "none" : out;
  }

  KafkaLog& log_;
  const std::string group_;
  KafkaLog::KafkaPtr client_;
  Listener* listener_ = nullptr;
};

void kafka_member_configure(rd_kafka_conf_t* conf, void* member) {
  rd_kafka_conf_set_opaque(conf, member);
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaGroupMember::on_rebalance);
}

std::unique_ptr<GroupMember> KafkaLog::join(const std::string& group,
                                            const std::vector<std::string>& streams) {
  if (!config_.consumer_groups) return nullptr;
  auto member = std::make_unique<KafkaGroupMember>(*this, group);
  member->start(streams);
  return member;
}

}  // namespace sluice::log
