// sluice: the command line. Subcommands are documented in docs/cli.md and by --help.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/exit_codes.h"
#include "app/generate_command.h"
#include "app/replay_command.h"
#include "app/run_command.h"
#include "app/status_commands.h"
#include "config/config.h"
#include "config/table.h"
#include "core/logging.h"
#include "generate/presets.h"
#include "transforms/flag/flag.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0-dev"
#endif

namespace {

// Loads --config (or the built-in defaults), then applies the command-line overrides.
// Prints every error and returns false when the result is not usable.
bool load_config(const std::string& file, const std::string& listen, const std::string& data_dir,
                 sluice::Config& out) {
  auto loaded = file.empty() ? sluice::config::load_defaults() : sluice::config::load_file(file);
  if (!listen.empty()) {
    if (auto error = sluice::http::check_listen(listen)) {
      loaded.errors.push_back({.path = "--listen", .message = *error});
    }
    loaded.config.server.listen = listen;
  }
  if (!data_dir.empty()) loaded.config.storage.data_dir = data_dir;
  if (!loaded.ok()) {
    std::cerr << sluice::config::format_errors(loaded.errors, file.empty() ? "defaults" : file);
    return false;
  }
  out = std::move(loaded.config);
  return true;
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "Sluice: a real-time event platform. Collects events over HTTP, keeps them in a "
      "durable log, stores them and serves them back.",
      "sluice"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SLUICE_VERSION);

  std::string config_file, listen, data_dir, log_level = "info";
  // What every serving role takes.
  auto role = [&](const char* name, const char* description, const char* config_help) {
    auto* command = app.add_subcommand(name, description);
    command->add_option("-c,--config", config_file, config_help)->check(CLI::ExistingFile);
    command->add_option("--listen", listen, "HOST:PORT to listen on; overrides server.listen");
    command->add_option("--data-dir", data_dir, "Data directory; overrides storage.data_dir");
    command->add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    return command;
  };
  auto* run = role("run",
                   "Run the all-in-one server (collector, log, processor, store and query API) "
                   "until SIGINT or SIGTERM.",
                   "YAML configuration file (default: built-in defaults)");
  auto* collector = role("collector",
                         "Run the collector role alone: HTTP ingest into the log, without the "
                         "processor, store or query API (for scale-out on Kafka, or to measure "
                         "ingest).",
                         "YAML configuration file");
  auto* api = role("api",
                   "Run the query API alone: the read endpoints, tail, metrics and health over "
                   "the PostgreSQL store (store.url) and the Kafka log, for API replicas behind "
                   "a load balancer.",
                   "YAML configuration file");
  auto* processor = role("processor",
                         "Run the processing role alone: the store writer, pipelines, windows "
                         "and alert rules over the Kafka log, with health, metrics and their "
                         "status over HTTP. Replicas share the partitions through Kafka "
                         "consumer groups.",
                         "YAML configuration file");
  std::string validate_file;
  auto* validate = app.add_subcommand("validate",
                                      "Check a configuration file without starting; "
                                      "prints every error with its line.");
  validate->add_option("config", validate_file, "YAML configuration file")->required();

  auto* version = app.add_subcommand("version", "Print the version.");

  auto* config_cmd = app.add_subcommand("config", "Configuration helpers.");
  config_cmd->require_subcommand(1);
  auto* reference = config_cmd->add_subcommand(
      "reference",
      "Print the configuration reference (Markdown) generated from the settings "
      "tables.");

  sluice::GenerateOptions generate_options;
  std::string generate_duration = "10s";
  auto* generate = app.add_subcommand(
      "generate", "Post realistic events to a running collector, for demos and load.");
  generate
      ->add_option("--preset", generate_options.preset,
                   "web (tracker batches to /collect), iot (readings to /publish), city "
                   "(incident reports to /publish) or forms (to /v1/forms/contact)")
      ->check(CLI::IsMember(sluice::generate::preset_names()))
      ->capture_default_str();
  generate->add_option("--rate", generate_options.rate, "Events per second")
      ->check(CLI::Range(0.01, 10'000'000.0))
      ->capture_default_str();
  generate->add_option("--duration", generate_duration, "How long to send: 500ms, 30s, 5m, 1h")
      ->capture_default_str();
  generate->add_option("--seed", generate_options.seed, "Random seed (same seed, same events)")
      ->capture_default_str();
  generate->add_option("--target", generate_options.target,
                       "Collector base URL (default: $SLUICE_URL, else http://127.0.0.1:7070)");
  generate->add_option("--batch", generate_options.batch, "Events per request (web preset)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  generate->add_option("--connections", generate_options.connections, "Parallel connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  generate->add_option("--key", generate_options.key, "Write key (sent as Bearer)");
  auto* generate_stream = generate->add_option(
      "--stream", generate_options.stream,
      "Post to this stream (/v1/streams/NAME/events, or /v1/forms/NAME with the forms preset) "
      "instead of the preset's path");
  generate
      ->add_option("--path", generate_options.path,
                   "Post to this path (a route such as /ingest) instead of the preset's path")
      ->excludes(generate_stream)
      ->check([](const std::string& path) {
        return path.starts_with("/") ? std::string() : std::string("a path starts with /");
      });
  // The commands that ask a running server share how they find it (app/server_client.h).
  sluice::ServerTarget server_target;
  std::string server_config;
  bool as_json = false;
  auto server_options = [&](CLI::App* command) {
    command->add_option("--url", server_target.url,
                        "The server's base URL (default: $SLUICE_URL, else server.listen of "
                        "--config, else http://127.0.0.1:7070)");
    command->add_option("--token", server_target.token,
                        "Read token (default: $SLUICE_TOKEN, else the first of "
                        "server.read_tokens of --config)");
    command->add_option("-c,--config", server_config, "The server's configuration file")
        ->check(CLI::ExistingFile);
  };
  auto* pipelines = app.add_subcommand(
      "pipelines", "Show the pipelines of a running server: state, lag, counts, last error.");
  server_options(pipelines);
  pipelines->add_flag("--json", as_json, "Print GET /v1/pipelines' JSON as it is");
  auto* windows = app.add_subcommand(
      "windows",
      "Show the window definitions and per-event alert rules of a running server: state, lag, "
      "watermark, counts.");
  server_options(windows);
  windows->add_flag("--json", as_json, "Print GET /v1/windows' JSON as it is");
  std::string alerts_rule;
  int alerts_limit = 20;
  auto* alerts = app.add_subcommand("alerts", "Show the latest alerts of a running server.");
  server_options(alerts);
  alerts->add_option("--rule", alerts_rule, "Only this rule's alerts");
  alerts->add_option("--limit", alerts_limit, "How many, newest first")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  alerts->add_flag("--json", as_json, "Print each alert as JSON, one per line");
  std::vector<std::string> tail_streams;
  std::string tail_filter;
  bool tail_payload = false;
  auto* tail = app.add_subcommand(
      "tail",
      "Follow streams of a running server: one line per event as it arrives, until "
      "interrupted.");
  server_options(tail);
  tail->add_option("streams", tail_streams, "Streams to follow")->required();
  tail->add_option("--filter", tail_filter,
                   "Only events whose payload matches this expression, such as "
                   "'value > 90' (docs/expressions.md)");
  tail->add_flag("--payload", tail_payload, "Print only each event's payload");
  sluice::ReplayOptions replay_options;
  auto* dead_letters_cmd =
      app.add_subcommand("dead-letters", "Dead letters: events a stream or pipeline refused.");
  dead_letters_cmd->require_subcommand(1);
  auto* replay = dead_letters_cmd->add_subcommand(
      "replay",
      "Send a pipeline's or a stream's dead letters again, after a fix; each at most once.");
  server_options(replay);
  auto* replay_target = replay->add_option_group("what");
  replay_target->add_option("--pipeline", replay_options.pipeline,
                            "The pipeline whose dead letters go to its sinks again "
                            "(needs the server's --config)");
  replay_target->add_option("--stream", replay_options.stream,
                            "The stream whose refused events are posted to it again");
  replay_target->require_option(1);
  replay->add_option("--since", replay_options.since,
                     "Only dead letters from this time on (ISO-8601 or epoch)");
  replay->add_flag("--dry-run", replay_options.dry_run, "Print what would be replayed");
  replay->add_option("--key", replay_options.key, "--stream: a write key of the stream");
  replay->add_option("--data-dir", replay_options.data_dir,
                     "Where the record of replayed dead letters is kept (default: "
                     "storage.data_dir of --config)");
  std::string wordlist_name;
  auto* wordlist = app.add_subcommand(
      "wordlist",
      "Print a word list built into the flag step (to start a list of your own from it); "
      "without a name, the names.");
  wordlist->add_option("name", wordlist_name, "The list's name, as in builtin:NAME");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? sluice::kExitOk : sluice::kExitUsage;
  }

  if (*version) {
    fmt::print("sluice {}\n", SLUICE_VERSION);
    return sluice::kExitOk;
  }
  if (*reference) {
    fmt::print("{}", sluice::config::reference_markdown());
    return sluice::kExitOk;
  }
  if (*wordlist) {
    if (wordlist_name.empty()) {
      for (const auto name : sluice::transforms::builtin_word_list_names())
        fmt::print("{}\n", name);
      return sluice::kExitOk;
    }
    const auto text = sluice::transforms::builtin_word_list(wordlist_name);
    if (text.empty()) {
      std::cerr << "sluice wordlist: no built-in list named \"" << wordlist_name << "\"\n";
      return sluice::kExitUsage;
    }
    fmt::print("{}", text);
    return sluice::kExitOk;
  }
  if (*validate) {
    sluice::Config config;
    if (!load_config(validate_file, "", "", config)) return sluice::kExitInvalidConfig;
    // The streams as they will be, defaults and implied ones included: a name added by a typo
    // in a dead_letter or stream setting shows here.
    std::string declared, implied;
    for (const auto& [name, stream] : config.streams) {
      std::string& list = config.implied_streams.contains(name) ? implied : declared;
      list += (list.empty() ? "" : ", ") + name;
    }
    fmt::print("{}: ok ({} streams: {}{})\n", validate_file, config.streams.size(), declared,
               implied.empty() ? "" : "; added because settings write to them: " + implied);
    return sluice::kExitOk;
  }
  if (*pipelines || *windows || *alerts || *tail || *generate || *replay) {
    if (*generate) server_target.url = generate_options.target;
    if (auto error = sluice::resolve_target(server_target, server_config)) {
      std::cerr << *error;
      return sluice::kExitInvalidConfig;
    }
  }
  if (*generate) {
    auto duration = sluice::config::parse_duration_ms(generate_duration);
    if (!duration || *duration <= 0) {
      std::cerr << "sluice generate: --duration: expected a duration such as 30s or 5m, got \""
                << generate_duration << "\"\n";
      return sluice::kExitUsage;
    }
    generate_options.duration = std::chrono::milliseconds(*duration);
    generate_options.target = server_target.url;
    return sluice::run_generate(generate_options);
  }
  if (*replay) {
    replay_options.config_file = server_config;
    return sluice::run_replay_command(server_target, replay_options);
  }
  if (*pipelines) return sluice::run_pipelines_command(server_target, as_json);
  if (*windows) return sluice::run_windows_command(server_target, as_json);
  if (*alerts) {
    return sluice::run_alerts_command(server_target, alerts_rule, alerts_limit, as_json);
  }
  if (*tail)
    return sluice::run_tail_command(server_target, tail_streams, tail_filter, tail_payload);
  if (*collector) {
    sluice::set_log_level(log_level);
    sluice::Config config;
    if (!load_config(config_file, listen, data_dir, config)) return sluice::kExitInvalidConfig;
    return sluice::run_collector(config);
  }
  if (*api) {
    sluice::set_log_level(log_level);
    sluice::Config config;
    if (!load_config(config_file, listen, data_dir, config)) return sluice::kExitInvalidConfig;
    return sluice::run_api(config);
  }
  if (*run || *processor) {
    sluice::set_log_level(log_level);
    sluice::Config config;
    if (!load_config(config_file, listen, data_dir, config)) return sluice::kExitInvalidConfig;
    const sluice::ConfigReloader reload = [&]() -> std::optional<sluice::Config> {
      sluice::Config fresh;
      if (!load_config(config_file, listen, data_dir, fresh)) return std::nullopt;
      return fresh;
    };
    return *run ? sluice::run_server(config, reload) : sluice::run_processor(config, reload);
  }
  return sluice::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return sluice::kExitFailure;
  }
}
