#pragma once
// `sluice run`: the all-in-one server. Wires the pieces together in dependency order:
// embedded log → processor (log → SQLite) → store reader → HTTP server, and shuts them down in
// the reverse order so no acknowledged event is left unwritten.

#include <functional>
#include <optional>

#include "config/config.h"

namespace sluice {

// Loads the configuration again (the same file and command-line overrides); nullopt when it
// has errors (they are reported).
using ConfigReloader = std::function<std::optional<Config>()>;

// Blocks until SIGINT/SIGTERM; returns the process exit code. On SIGHUP, `reload` is called and
// the pipelines and sinks of the new configuration are applied (docs/pipelines.md).
int run_server(const Config& config, const ConfigReloader& reload = {});

// `sluice collector`: the collector role alone — HTTP ingest into the log (Kafka for
// scale-out, or the embedded log), without the processor, store or query API. Blocks until
// SIGINT/SIGTERM; returns the process exit code.
int run_collector(const Config& config);

// `sluice processor`: the processing role alone — the store writer, pipelines, windows and
// alert rules over the Kafka log, with health, /metrics, /v1/pipelines and /v1/windows; no
// ingest and no query API. Replicas share the partitions through Kafka consumer groups
// (log.kafka.consumer_groups). Refuses to start (kExitInvalidConfig) on the embedded log.
int run_processor(const Config& config, const ConfigReloader& reload = {});

// `sluice api`: the query API alone — GET endpoints, tail, /metrics and health over the
// PostgreSQL store and the Kafka log, no ingest, processor or pipelines. Refuses to start
// (kExitInvalidConfig) without store.url or on the embedded log. Blocks until SIGINT/SIGTERM.
int run_api(const Config& config);

}  // namespace sluice
