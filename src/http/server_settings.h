#pragma once
// The `server` section: the front door's settings (listener, timeouts, limits, read tokens, TLS),
// declared with their defaults and documentation.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/table.h"

namespace sluice {

// Token buckets; 0 turns a limit off.
struct RateLimitConfig {
  int per_ip = 0;        // requests per second from one client address
  int per_key = 0;       // requests per second with one write key
  int reads_per_ip = 0;  // reads per second from one client address (probes excluded)
  int burst = 0;         // requests a client may send at once above the rate
};

struct TlsConfig {
  std::string cert_file;  // PEM: the certificate, then any intermediates
  std::string key_file;   // PEM private key
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ServerConfig {
  std::string listen;
  bool trust_forwarded_for = false;
  std::vector<std::string> read_tokens;  // empty: reads are open on a loopback listener only
  bool public_reads = false;             // reads open to anyone, whatever the listener
  int max_connections = 0;               // open connections; beyond: 503 (0: no limit)
  int max_tails = 0;                     // live tails (GET /v1/tail); beyond: 503
  RateLimitConfig rate_limit;
  TlsConfig tls;
  int io_threads = 0;
  std::uint64_t max_body_bytes = 0;
  std::chrono::milliseconds header_timeout{};
  std::chrono::milliseconds body_timeout{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds stop_timeout{};
};

namespace http {

// Whether a "host:port" listen address is a loopback one (127.0.0.0/8, ::1, localhost).
bool is_loopback_listen(std::string_view listen);

// Checks a "host:port" listen address; returns the error.
std::optional<std::string> check_listen(const std::string& listen);

// The `server` section.
const config::Table& server_table();

}  // namespace http
}  // namespace sluice
