// A Kafka cluster for tests: librdkafka's mock cluster (3 brokers on real loopback TCP ports),
// hosted by this process. Creates the topics named on the command line, prints
//   bootstrap <host:port,host:port,...>
// on stdout, then obeys commands on stdin, one per line, answering "ok" to each:
//   down <broker id>   up <broker id>   quit
// EOF on stdin also quits.
//
// usage: kafka_mock_cluster TOPIC:PARTITIONS...

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  // A client killed mid-request must not end the cluster with SIGPIPE on the broker's write.
  std::signal(SIGPIPE, SIG_IGN);
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // This client only hosts the cluster; it connects nowhere, which it would warn about.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (!rk) {
    std::fprintf(stderr, "kafka_mock_cluster: %s\n", error);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, 3);
  if (!cluster) {
    std::fprintf(stderr, "kafka_mock_cluster: cannot create the mock cluster\n");
    return 1;
  }
  for (int i = 1; i < argc; ++i) {
    std::string spec = argv[i];
    auto colon = spec.find(':');
    const std::string topic = spec.substr(0, colon);
    const int partitions = colon == std::string::npos ? 1 : std::atoi(spec.c_str() + colon + 1);
    if (rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 3) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_mock_cluster: cannot create topic %s\n", topic.c_str());
      return 1;
    }
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream words(line);
    std::string command;
    int broker = 0;
    words >> command >> broker;
    if (command == "quit") break;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (command == "down") {
      err = rd_kafka_mock_broker_set_down(cluster, broker);
    } else if (command == "up") {
      err = rd_kafka_mock_broker_set_up(cluster, broker);
    } else {
      std::printf("unknown command\n");
      std::fflush(stdout);
      continue;
    }
    std::printf("%s\n", err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : rd_kafka_err2str(err));
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
