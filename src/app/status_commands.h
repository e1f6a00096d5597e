#pragma once
// The commands that ask a running server (app/server_client.h) and print what it says:
//   sluice pipelines   GET /v1/pipelines, one row per pipeline
//   sluice windows     GET /v1/windows, one row per window definition and per-event rule
//   sluice alerts      GET /v1/alerts, the latest alerts
//   sluice tail        GET /v1/tail, one line per event as it arrives
// --json prints the server's JSON instead of a table.

#include <string>
#include <vector>

#include "app/server_client.h"

namespace sluice {

// Each returns the process exit code: 0 when the server answered.
int run_pipelines_command(const ServerTarget& target, bool json);
int run_windows_command(const ServerTarget& target, bool json);
int run_alerts_command(const ServerTarget& target, const std::string& rule, int limit, bool json);
int run_tail_command(const ServerTarget& target, const std::vector<std::string>& streams,
                     const std::string& filter, bool payload_only);

}  // namespace sluice
