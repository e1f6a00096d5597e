#include "app/run_command.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "app/exit_codes.h"
#include "core/logging.h"
#include "log/embedded/embedded_log.h"
#include "log/kafka/kafka_log.h"
#include "pipeline/pipeline.h"
#include "processor/processor.h"
#include "query/store_reader.h"
#include "sources/http/server.h"

namespace sluice {
namespace {

// Each client connection is a file descriptor; the usual soft limit of 1024 would refuse
// connections long before the server is busy. Raise it to the hard limit.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::unique_ptr<log::Log> open_log(const Config& config) {
  std::vector<log::StreamSpec> streams;
  streams.reserve(config.streams.size());
  for (const auto& [name, stream] : config.streams) {
    streams.emplace_back(name, stream.partitions);
  }
  if (config.log.backend == "kafka") {
    return std::make_unique<log::KafkaLog>(config.log.kafka, streams);
  }
  return std::make_unique<log::EmbeddedLog>(
      (std::filesystem::path(config.storage.data_dir) / "log").string(), streams, config.log);
}

// Binds, prints the address and serves until SIGINT/SIGTERM.
void serve(const Config& config, http::Server& server, std::string_view role) {
  const auto port = server.bind();
  const auto& listen = config.server.listen;
  const auto url = fmt::format("http://{}:{}", listen.substr(0, listen.rfind(':')), port);
  logger("app")->info("listening on {} role={} data_dir={}", url, role, config.storage.data_dir);
  // A stable line on stdout for scripts and tests that start sluice on port 0.
  fmt::print("sluice: listening on {}\n", url);
  std::fflush(stdout);
  server.run();
}

}  // namespace

int run_server(const Config& config) {
  auto log = logger("app");
  raise_open_file_limit();
  try {
    std::filesystem::create_directories(config.storage.data_dir);
    auto log_backend = open_log(config);
    log::Log& event_log = *log_backend;
    Processor processor(event_log, config.store, config.store_path());
    auto built = pipeline::PipelineSet::build(config, event_log);
    if (!built) {
      log->error("cannot start the pipelines: {}", built.error().message);
      return kExitFailure;
    }
    pipeline::PipelineSet& pipelines = *built.value();
    event_log.set_on_durable([&processor, &pipelines] {
      processor.notify();
      pipelines.notify();
    });
    // Whatever way this scope ends, the log stops calling back before the processor goes away.
    struct CloseLog {
      log::Log& log;
      ~CloseLog() { log.close(); }
    } close_log{event_log};
    processor.start();
    pipelines.start();
    query::StoreReader reader(config.store_path(), config.store.read_connections);

    http::Server server(config, event_log, &reader, &pipelines);
    serve(config, server, "all");
    // The server has stopped taking requests: the pipelines finish their batches (a sink
    // being retried is left for the next start), the log finishes its queued appends, then the
    // processor finishes its batch when it is destroyed.
    pipelines.stop();
    event_log.close();
    log->info("stopped");
  } catch (const std::exception& e) {
    log->error("cannot run: {}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

int run_collector(const Config& config) {
  auto log = logger("app");
  raise_open_file_limit();
  try {
    std::filesystem::create_directories(config.storage.data_dir);
    auto log_backend = open_log(config);
    http::Server server(config, *log_backend, nullptr);
    serve(config, server, "collector");
    log_backend->close();  // every accepted append finishes before the process exits
    log->info("stopped");
  } catch (const std::exception& e) {
    log->error("cannot run: {}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sluice
