#pragma once
// `sluice run`: the all-in-one server. Wires the pieces together in dependency order:
// embedded log → processor (log → SQLite) → store reader → HTTP server, and shuts them down in
// the reverse order so no acknowledged event is left unwritten.

#include "config/config.h"

namespace sluice {

// Blocks until SIGINT/SIGTERM; returns the process exit code.
int run_server(const Config& config);

// `sluice collector`: the collector role alone — HTTP ingest into the log (Kafka for
// scale-out, or the embedded log), without the processor, store or query API. Blocks until
// SIGINT/SIGTERM; returns the process exit code.
int run_collector(const Config& config);

}  // namespace sluice
