#pragma once
// `sluice pipelines` and `sluice windows`: ask a running server (GET /v1/pipelines,
// GET /v1/windows) for its pipelines or window definitions and print one row each (or the JSON
// with --json).

#include <string>

namespace sluice {

// Each returns the process exit code: 0 when the server answered.
int run_pipelines_command(const std::string& url, bool json);
int run_windows_command(const std::string& url, bool json);

}  // namespace sluice
