#include "app/run_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>

#include "app/exit_codes.h"
#include "app/served_parts.h"
#include "core/logging.h"
#include "core/thread_name.h"
#include "http/server.h"
#include "log/embedded/embedded_log.h"
#include "log/kafka/kafka_log.h"
#include "pipeline/pipeline_set.h"
#include "processor/processor.h"
#include "query/store_reader.h"
#include "sources/kafka/foreign_events.h"
#include "windows/window_set.h"

namespace sluice {
namespace {

// What every server role sets up before its first connection.
void prepare_server_process() {
  // Each client connection is a file descriptor; the usual soft limit of 1024 would refuse
  // connections long before the server is busy. Raise it to the hard limit.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  // A peer that goes away (a broker, a database, a mail or TLS server, the program reading
  // our log on stderr) must cost that one write, not the process: a write to a closed socket
  // without MSG_NOSIGNAL, or to a closed pipe, would otherwise end the server with SIGPIPE.
  // (The CLI commands keep the default, so `sluice tail | head` ends quietly.)
  std::signal(SIGPIPE, SIG_IGN);
}

std::unique_ptr<log::Log> open_log(const Config& config) {
  std::vector<log::StreamSpec> streams;
  streams.reserve(config.streams.size());
  for (const auto& [name, stream] : config.streams) {
    streams.emplace_back(name, stream.partitions).topic = stream.kafka.topic;
  }
  if (config.log.backend == "kafka") {
    auto kafka = std::make_unique<log::KafkaLog>(config.log.kafka, streams);
    // Records other services produce to a stream's topic are its events too.
    for (const auto& [name, stream] : config.streams) {
      auto reader = sources::foreign_reader(stream);
      if (!reader) throw std::runtime_error(reader.error().message);
      kafka->set_foreign_reader(name, std::move(reader.value()));
    }
    return kafka;
  }
  return std::make_unique<log::EmbeddedLog>(
      (std::filesystem::path(config.storage.data_dir) / "log").string(), streams, config.log);
}

// Binds, prints the address and serves until SIGINT/SIGTERM.
void serve(const Config& config, http::Server& server, std::string_view role) {
  const auto port = server.bind();
  const auto& listen = config.server.listen;
  const auto url = fmt::format("{}://{}:{}", config.server.tls.enabled() ? "https" : "http",
                               listen.substr(0, listen.rfind(':')), port);
  logger("app")->info("listening on {} role={} data_dir={}", url, role, config.storage.data_dir);
  // A stable line on stdout for scripts and tests that start sluice on port 0.
  fmt::print("sluice: listening on {}\n", url);
  std::fflush(stdout);
  server.run();
}

// SIGHUP on a thread of its own: reloading stops and starts pipelines, which may wait for a
// batch in progress, so it must not hold up an I/O thread. Every role installs one: without a
// handler SIGHUP's default action ends the process (a closed terminal, a supervisor's reload).
class OnHangup {
 public:
  explicit OnHangup(std::function<void()> action)
      : action_(std::move(action)), signals_(io_, SIGHUP) {
    wait();
    thread_ = std::thread([this] {
      name_this_thread("sluice-hangup");
      io_.run();
    });
  }
  ~OnHangup() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  OnHangup(const OnHangup&) = delete;
  OnHangup& operator=(const OnHangup&) = delete;

 private:
  void wait() {
    signals_.async_wait([this](const boost::system::error_code& error, int) {
      if (error) return;
      action_();
      wait();
    });
  }

  std::function<void()> action_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  std::thread thread_;
};

// The roles that have nothing else to reload take the TLS certificate again (server.tls), or
// say they reload nothing, and keep serving.
void ignore_hangup(std::string_view role, http::Server& server) {
  if (server.reload_tls()) return;
  logger("app")->info(
      "SIGHUP ignored: the {} role reloads nothing; restart it to apply a changed configuration",
      role);
}

void reload_on_hangup(const ConfigReloader& reload, pipeline::PipelineSet& pipelines,
                      windows::WindowSet& windows) {
  auto log = logger("app");
  log->info("SIGHUP: reloading the pipelines, windows and alert rules");
  auto config = reload();
  if (!config) {
    log->error("reload refused: the configuration has errors (above); nothing changed");
    return;
  }
  auto summary = pipelines.reload(*config);
  if (!summary) {
    log->error("reload refused: {}; nothing changed", summary.error().message);
    return;
  }
  const auto& s = summary.value();
  log->info("reloaded pipelines added=[{}] changed=[{}] removed=[{}] unchanged=[{}]",
            fmt::join(s.added, ","), fmt::join(s.changed, ","), fmt::join(s.removed, ","),
            fmt::join(s.unchanged, ","));
  const auto w = windows.reload(*config);
  log->info(
      "reloaded windows and alert rules added=[{}] changed=[{}] removed=[{}] unchanged=[{}] "
      "(other sections take effect at the next start)",
      fmt::join(w.added, ","), fmt::join(w.changed, ","), fmt::join(w.removed, ","),
      fmt::join(w.unchanged, ","));
}

}  // namespace

// The processing parts, and with `all` the collector and the query API too.
int run_processing(const Config& config, const ConfigReloader& reload, bool all) {
  auto log = logger("app");
  prepare_server_process();
  try {
    std::filesystem::create_directories(config.storage.data_dir);
    auto log_backend = open_log(config);
    log::Log& event_log = *log_backend;
    std::map<std::string, StreamConfig> dead_letters;
    for (const auto& [name, stream] : config.streams) {
      if (!stream.dead_letter.empty()) dead_letters[name] = config.streams.at(stream.dead_letter);
    }
    Processor processor(
        event_log, config.store,
        store::open_store_writer(config.store, config.store_path(), config.stats_fields()),
        std::move(dead_letters));
    auto built = pipeline::PipelineSet::build(config, event_log);
    if (!built) {
      log->error("cannot start the pipelines: {}", built.error().message);
      return kExitFailure;
    }
    pipeline::PipelineSet& pipelines = *built.value();
    auto windows = windows::WindowSet::build(config, event_log);
    event_log.set_on_durable([&processor, &pipelines, &windows] {
      processor.notify();
      pipelines.notify();
      windows->notify();
    });
    // Whatever way this scope ends, the log stops calling back before the processor goes away.
    struct CloseLog {
      log::Log& log;
      ~CloseLog() { log.close(); }
    } close_log{event_log};
    processor.start();
    pipelines.start();
    windows->start();
    auto reader = all ? query::open_store_reader(config) : nullptr;

    http::Server server(config.server);
    app::ServedParts served(config, event_log, server,
                            {.collect = all,
                             .reader = reader.get(),
                             .store = &processor,
                             .pipelines = &pipelines,
                             .windows = windows.get()});
    OnHangup hangup([&] {
      if (reload) {
        server.reload_tls();
        reload_on_hangup(reload, pipelines, *windows);
      } else {
        ignore_hangup(all ? "all-in-one" : "processor", server);
      }
    });
    serve(config, server, all ? "all" : "processor");
    // The server has stopped taking requests: the pipelines finish their batches (a sink
    // being retried is left for the next start), the log finishes its queued appends, then the
    // processor finishes its batch when it is destroyed.
    pipelines.stop();
    windows->stop();  // with a last checkpoint
    event_log.close();
    log->info("stopped");
  } catch (const std::exception& e) {
    log->error("cannot run: {}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

int run_server(const Config& config, const ConfigReloader& reload) {
  return run_processing(config, reload, true);
}

int run_processor(const Config& config, const ConfigReloader& reload) {
  if (config.log.backend != "kafka") {
    logger("app")->error(
        "sluice processor follows the Kafka log: set log.backend: kafka (the embedded log "
        "belongs to the one process that writes it: use sluice run)");
    return kExitInvalidConfig;
  }
  return run_processing(config, reload, false);
}

int run_collector(const Config& config) {
  auto log = logger("app");
  prepare_server_process();
  try {
    std::filesystem::create_directories(config.storage.data_dir);
    auto log_backend = open_log(config);
    http::Server server(config.server);
    app::ServedParts served(config, *log_backend, server, {});
    OnHangup hangup([&server] { ignore_hangup("collector", server); });
    serve(config, server, "collector");
    log_backend->close();  // every accepted append finishes before the process exits
    log->info("stopped");
  } catch (const std::exception& e) {
    log->error("cannot run: {}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

int run_api(const Config& config) {
  auto log = logger("app");
  if (config.store.url.empty()) {
    log->error(
        "sluice api serves the PostgreSQL store: set store.url (the embedded SQLite store is "
        "served by sluice run)");
    return kExitInvalidConfig;
  }
  if (config.log.backend != "kafka") {
    log->error(
        "sluice api follows the Kafka log: set log.backend: kafka (the embedded log belongs "
        "to the one process that writes it)");
    return kExitInvalidConfig;
  }
  prepare_server_process();
  try {
    auto log_backend = open_log(config);
    auto reader = query::open_store_reader(config);
    http::Server server(config.server);
    app::ServedParts served(config, *log_backend, server,
                            {.collect = false, .reader = reader.get()});
    OnHangup hangup([&server] { ignore_hangup("api", server); });
    serve(config, server, "api");
    log_backend->close();
    log->info("stopped");
  } catch (const std::exception& e) {
    log->error("cannot run: {}", e.what());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sluice
