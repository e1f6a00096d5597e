#pragma once
// `sluice generate`: posts realistic events (generate/presets.h) to a running collector at a
// steady rate, for demos and load. Prints a summary of what was sent and how it was answered.

#include <chrono>
#include <cstdint>
#include <string>

namespace sluice {

struct GenerateOptions {
  std::string preset = "web";
  double rate = 100;  // events per second, over all connections
  std::chrono::milliseconds duration{10'000};
  std::uint64_t seed = 1;
  std::string target;      // resolved as for the other commands (app/server_client.h)
  std::size_t batch = 20;  // events per request, for presets that send batches
  int connections = 2;
  std::string key;     // write key, sent as Authorization: Bearer
  std::string stream;  // post to this stream's endpoint rather than the preset's path
  std::string path;    // or to this path (a route)
};

// Returns the process exit code: 0 when every request was accepted.
int run_generate(const GenerateOptions& options);

}  // namespace sluice
