#pragma once
// kafka: each event as one message on a Kafka topic (librdkafka; acks=all, idempotent
// producer). The message key is the event's key, or its id when it has none, so one key's
// events stay in order in one partition. A batch is delivered once every message of it is
// acknowledged by the brokers; if any fails or the delivery timeout passes, the batch is
// retried. At-least-once: a retried batch may write some messages twice.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class KafkaSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string brokers;
    std::string topic;
    std::chrono::milliseconds delivery_timeout{};
    bool payload_only = false;
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  KafkaSink(Settings settings, rd_kafka_t* producer);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  Settings settings_;
  rd_kafka_t* producer_;
};

}  // namespace sluice::sinks
