#include "sinks/kafka/kafka_sink.h"

#include <fmt/format.h>

#include "pipeline/event_json.h"

namespace sluice::sinks {
namespace {

// The outcome of one batch's messages, filled by librdkafka's delivery reports.
struct BatchDelivery {
  std::size_t pending = 0;
  std::size_t failed = 0;
  std::string first_error;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  auto* delivery = static_cast<BatchDelivery*>(message->_private);
  if (!delivery) return;
  --delivery->pending;
  if (message->err) {
    if (delivery->failed++ == 0) delivery->first_error = rd_kafka_err2str(message->err);
  }
}

}  // namespace

const config::Table& KafkaSink::settings_table() {
  static const config::Table table{
      "kafka",
      "Produces each event as one message to a Kafka topic (acks=all, idempotent).",
      {
          config::string_setting("brokers", &Settings::brokers, "",
                                 "Bootstrap brokers, `host:port[,host:port...]`. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "brokers are required";
                                   return std::nullopt;
                                 }),
          config::string_setting("topic", &Settings::topic, "", "Topic to write. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "a topic is required";
                                   return std::nullopt;
                                 }),
          config::duration_setting("delivery_timeout", &Settings::delivery_timeout, "30s", 1000,
                                   600'000,
                                   "How long a batch may wait for the brokers before it is "
                                   "retried."),
          config::bool_setting("payload_only", &Settings::payload_only, false,
                               "Message value: the payload alone instead of the envelope."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> KafkaSink::open(const pipeline::SinkContext&,
                                                        const Settings& settings) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::string timeout = std::to_string(settings.delivery_timeout.count());
  const std::pair<const char*, std::string> options[] = {
      {"bootstrap.servers", settings.brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", timeout},
      {"linger.ms", "5"},
      {"log_level", "4"},
  };
  for (const auto& [name, value] : options) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return make_error(Errc::kInvalidInput, fmt::format("kafka {}: {}", name, error));
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (!producer) {
    rd_kafka_conf_destroy(conf);
    return make_error(Errc::kUnavailable, fmt::format("kafka: {}", error));
  }
  return std::unique_ptr<pipeline::Sink>(std::make_unique<KafkaSink>(settings, producer));
}

KafkaSink::KafkaSink(Settings settings, rd_kafka_t* producer)
    : settings_(std::move(settings)), producer_(producer) {}

KafkaSink::~KafkaSink() {
  rd_kafka_flush(producer_, 5000);
  rd_kafka_destroy(producer_);
}

pipeline::WriteOutcome KafkaSink::write(const pipeline::SinkBatch& batch) {
  BatchDelivery delivery;
  std::string value;
  for (const auto& record : batch.records) {
    value.clear();
    if (settings_.payload_only) {
      value = record.event.payload;
    } else {
      pipeline::append_event_json(value, record);
    }
    const std::string_view key = record.event.key ? *record.event.key : record.event.id;
    for (;;) {
      const auto err = rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(settings_.topic.c_str()),
                                         RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                         RD_KAFKA_V_VALUE(value.data(), value.size()),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_OPAQUE(&delivery), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++delivery.pending;
        break;
      }
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // Messages already queued still report to `delivery`: wait for them first.
        rd_kafka_flush(producer_, static_cast<int>(settings_.delivery_timeout.count()));
        return pipeline::WriteOutcome::retry(
            fmt::format("kafka {}: {}", settings_.topic, rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 100);  // the local queue is full: let deliveries drain it
    }
  }
  // Every message reports (delivered or failed) within message.timeout.ms.
  while (delivery.pending > 0)
    rd_kafka_poll(producer_, 100);
  if (delivery.failed > 0) {
    return pipeline::WriteOutcome::retry(
        fmt::format("kafka {}: {} of {} messages not delivered: {}", settings_.topic,
                    delivery.failed, batch.records.size(), delivery.first_error));
  }
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
