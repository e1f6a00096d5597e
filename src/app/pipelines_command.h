#pragma once
// `sluice pipelines`: asks a running server (GET /v1/pipelines) for its pipelines and prints
// each one's state, lag, counts and last error as a table (or the JSON with --json).

#include <string>

namespace sluice {

// Returns the process exit code: 0 when the server answered.
int run_pipelines_command(const std::string& url, bool json);

}  // namespace sluice
