#include "sources/kafka/kafka_source_settings.h"

namespace sluice::sources {
namespace {

// Kafka's own rule for topic names.
std::optional<std::string> check_topic(const config::Scalar& v) {
  if (v.text.size() > 249) return "a Kafka topic name has at most 249 characters";
  if (v.text == "." || v.text == "..") return "\"" + v.text + "\" is not a Kafka topic name";
  for (const char c : v.text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return "a Kafka topic name uses only letters, digits, '.', '_' and '-'";
  }
  return std::nullopt;
}

}  // namespace

const config::Table& kafka_stream_table() {
  static const config::Table table{
      "streams.<name>.kafka",
      "With `log.backend: kafka`: read (and write) the stream in a topic that other services "
      "already produce JSON to. Their records become the stream's events as posted ones do: the "
      "stream's id_field, key_field, time_field and type_field are read from each JSON object "
      "(docs/deploy.md, \"Streams fed by Kafka topics\").",
      {
          config::string_setting(
              "topic", &KafkaStreamConfig::topic, "",
              "The topic. Its partition count must equal the stream's `partitions`. Empty: "
              "`log.kafka.topic_prefix` + the stream's name, created when missing.",
              check_topic),
      }};
  return table;
}

}  // namespace sluice::sources
