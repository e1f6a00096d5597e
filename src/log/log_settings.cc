#include "log/log_settings.h"

namespace sluice::log {

namespace {

std::optional<std::string> check_backend(const config::Scalar& v) {
  if (v.text == "embedded" || v.text == "kafka") return std::nullopt;
  return "\"" + v.text + "\" is not a log backend; use embedded or kafka";
}

std::optional<std::string> check_compression(const config::Scalar& v) {
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    if (v.text == codec) return std::nullopt;
  }
  return "\"" + v.text + "\" is not a compression; use none, gzip, snappy, lz4 or zstd";
}

std::optional<std::string> check_retention_policy(const config::Scalar& v) {
  if (v.text == "protect" || v.text == "drop_oldest") return std::nullopt;
  return "\"" + v.text + "\" is not a retention policy; use protect or drop_oldest";
}

const config::Table& kafka_table() {
  static const config::Table table{
      "log.kafka",
      "Apache Kafka (or any Kafka-protocol broker) as the log, with `log.backend: kafka`. One "
      "topic per stream, `<topic_prefix><stream>`, with the stream's partition count; the "
      "event key is the message key. Events are acknowledged once every in-sync replica has "
      "them (acks=all, idempotent producer).",
      {
          config::string_setting(
              "brokers", &KafkaConfig::brokers, "",
              "Bootstrap servers, `host:port,host:port`. Required with the kafka "
              "backend."),
          config::string_setting("topic_prefix", &KafkaConfig::topic_prefix, "",
                                 "Prepended to the stream name to make the topic name."),
          config::duration_setting(
              "delivery_timeout", &KafkaConfig::delivery_timeout, "30s", 1000, 3'600'000,
              "How long an event may wait for the brokers before its request gets "
              "503 (brokers unreachable)."),
          config::duration_setting(
              "linger", &KafkaConfig::linger, "1ms", 0, 1000,
              "How long the producer gathers records into a batch before sending it "
              "(librdkafka's linger.ms). Each request's 202 waits for its records' delivery, "
              "so this adds to every answer's time; under load batches fill while earlier "
              "ones are in flight anyway. Raise it to send fewer, larger requests to the "
              "brokers."),
          config::size_setting(
              "max_in_flight_bytes", &KafkaConfig::max_in_flight_bytes, "64MiB", 1LL << 20,
              1LL << 32,
              "Events waiting for the brokers, at most; past it requests get 503 with "
              "Retry-After instead of being buffered."),
          config::int_setting("replication_factor", &KafkaConfig::replication_factor, -1, -1, 16,
                              "Replicas of topics Sluice creates; -1 uses the brokers' default."),
          config::string_setting(
              "compression", &KafkaConfig::compression, "lz4",
              "How the producer compresses batches of records: none, gzip, snappy, lz4 or "
              "zstd. The envelope headers repeat in every record and compress well.",
              check_compression),
          config::bool_setting(
              "consumer_groups", &KafkaConfig::consumer_groups, true,
              "The store writer and each pipeline join a Kafka consumer group (named "
              "`<group_prefix><consumer>`: `store`, `pipeline.<name>`), so the processes that "
              "run them (`sluice processor`, `sluice run`) share out the partitions, each "
              "partition to one process at a time (cooperative-sticky). false: every process "
              "reads every partition."),
          config::string_setting("group_prefix", &KafkaConfig::group_prefix, "",
                                 "Prepended to the consumer's name to make its group id."),
          config::duration_setting(
              "session_timeout", &KafkaConfig::session_timeout, "10s", 3000, 300'000,
              "How long the group waits for a process that stopped answering (killed, cut "
              "off) before its partitions go to the others. Heartbeats go every fifth of it, at "
              "most 500ms apart. "
              "Brokers refuse values under their `group.min.session.timeout.ms` (Kafka's "
              "default: 6s)."),
      }};
  return table;
}

}  // namespace

const config::Table& log_table() {
  static const config::Table table{
      "log",
      "The durable log. Every accepted event is made durable here before the HTTP answer. With "
      "the embedded backend it is written and fsync'd under data_dir, and requests arriving "
      "together share one write and one fdatasync (group commit); the group_commit, segment "
      "and retention settings apply to it.",
      {
          config::string_setting("backend", &LogConfig::backend, "embedded",
                                 "`embedded` (files under data_dir, the default) or `kafka` (see "
                                 "log.kafka).",
                                 check_backend),
          config::size_setting(
              "group_commit_max_bytes", &LogConfig::group_commit_max_bytes, "8MiB", 64LL * 1024,
              1LL << 30,
              "Most bytes written by one group commit; more pending data waits for "
              "the next one."),
          config::duration_setting(
              "group_commit_max_wait", &LogConfig::group_commit_max_wait, "0", 0, 1000,
              "How long a group commit may wait for more requests to join it before "
              "writing (it writes at once when group_commit_max_bytes is reached). "
              "0 writes as soon as the previous sync is done: requests that arrive "
              "meanwhile still share the next sync."),
          config::size_setting(
              "segment_bytes", &LogConfig::segment_bytes, "128MiB", 1LL << 20, 1LL << 40,
              "A partition's log is a series of segment files; a new one is started "
              "once the newest reaches this size. Retention deletes whole segments."),
          config::size_setting(
              "retention_bytes", &LogConfig::retention_bytes, "0", 0, 1LL << 50,
              "Per partition: delete the oldest segments while the partition is larger "
              "than this. 0 keeps everything. The newest segment is never deleted."),
          config::duration_setting(
              "retention_age", &LogConfig::retention_age, "0", 0, 100LL * 365 * 86'400'000,
              "Delete a segment once its newest data is older than this (checked "
              "after writes and every 10 s). 0 keeps everything."),
          config::string_setting(
              "retention_policy", &LogConfig::retention_policy, "protect",
              "What retention may delete. `protect`: only segments every consumer (the store, "
              "pipelines, windows, alert rules) has processed; once a partition is at "
              "retention_bytes and the oldest segment is still needed, ingest answers 503 until "
              "the consumer catches up (retention_age waits the same way, without refusing). "
              "`drop_oldest`: the limits win; a consumer that finds events deleted before it read "
              "them skips them, logs the range and counts them "
              "(sluice_log_skipped_events_total). Embedded log only: with Kafka the brokers' "
              "retention applies.",
              check_retention_policy),
          config::section_setting("kafka", &LogConfig::kafka, kafka_table()),
      }};
  return table;
}

}  // namespace sluice::log
