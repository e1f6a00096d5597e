#pragma once
// `streams.<name>.kafka`: the topic a stream lives in on the Kafka backend, when it is a topic
// other services already produce to.

#include <string>

#include "config/table.h"

namespace sluice {

struct KafkaStreamConfig {
  std::string topic;  // empty: log.kafka.topic_prefix + the stream's name
};

namespace sources {

const config::Table& kafka_stream_table();

}  // namespace sources
}  // namespace sluice
