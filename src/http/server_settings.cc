#include "http/server_settings.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::http {

namespace {

std::optional<std::string> check_listen_scalar(const config::Scalar& v) {
  return check_listen(v.text);
}

const config::Table& rate_limit_table() {
  static const config::Table table{
      "server.rate_limit",
      "Token-bucket limits per client. A client over a limit gets 429 with Retry-After, before "
      "its body is read. 0 turns a limit off.",
      {
          config::int_setting("per_ip", &RateLimitConfig::per_ip, 0, 0, 10'000'000,
                              "Posts per second from one client address."),
          config::int_setting("per_key", &RateLimitConfig::per_key, 0, 0, 10'000'000,
                              "Posts per second with one write key."),
          config::int_setting(
              "reads_per_ip", &RateLimitConfig::reads_per_ip, 0, 0, 10'000'000,
              "Reads (every GET but `/healthz` and `/readyz`: events, stats, tails, "
              "`/metrics`...) per second from one client address."),
          config::int_setting(
              "burst", &RateLimitConfig::burst, 0, 0, 10'000'000,
              "Requests a client may send at once on top of the rate (the bucket size "
              "is rate + burst)."),
      }};
  return table;
}

const config::Table& tls_table() {
  static const config::Table table{
      "server.tls",
      "HTTPS on the listener (TLS 1.2 and 1.3), with a certificate and its key in PEM files. "
      "SIGHUP reads them again (after a renewal): new connections get the new certificate. "
      "Unset: plain HTTP (put TLS in front of Sluice off loopback).",
      {
          config::string_setting(
              "cert_file", &TlsConfig::cert_file, "",
              "The certificate, followed by any intermediate certificates (PEM)."),
          config::string_setting(
              "key_file", &TlsConfig::key_file, "",
              "The certificate's private key (PEM, not encrypted). Keep it readable "
              "by the Sluice user only."),
      }};
  return table;
}

}  // namespace

const config::Table& server_table() {
  static const config::Table table{
      "server",
      "The HTTP server: collector, query API and health endpoints.",
      {
          config::string_setting(
              "listen", &ServerConfig::listen, "127.0.0.1:7070",
              "Address and port to listen on, `host:port`. Port 0 picks a free port "
              "(the chosen one is logged).",
              check_listen_scalar),
          config::int_setting("io_threads", &ServerConfig::io_threads, 2, 1, 256,
                              "Threads that parse requests and answer them."),
          config::size_setting("max_body_bytes", &ServerConfig::max_body_bytes, "10MiB", 1024,
                               1LL << 30, "Largest request body accepted; larger bodies get 413."),
          config::duration_setting(
              "header_timeout", &ServerConfig::header_timeout, "10s", 100, 3'600'000,
              "Time allowed to receive a request's headers from their first byte "
              "(408 after it); also how long a new connection may stay silent."),
          config::duration_setting(
              "body_timeout", &ServerConfig::body_timeout, "30s", 100, 3'600'000,
              "Time allowed to receive a request's body once its headers are in."),
          config::duration_setting(
              "idle_timeout", &ServerConfig::idle_timeout, "60s", 100, 3'600'000,
              "How long a keep-alive connection may wait for its next request."),
          config::duration_setting(
              "stop_timeout", &ServerConfig::stop_timeout, "10s", 0, 3'600'000,
              "On SIGTERM, how long requests in progress may take to be answered "
              "before their connections are closed anyway."),
          config::int_setting(
              "max_connections", &ServerConfig::max_connections, 10000, 0, 1'000'000,
              "Connections open at once; a connection beyond them is answered 503 with "
              "Retry-After and closed. 0: no limit but the open-file limit."),
          config::int_setting("max_tails", &ServerConfig::max_tails, 100, 0, 100'000,
                              "Live tails (`GET /v1/tail`) open at once; one more is answered 503. "
                              "0: no limit."),
          config::bool_setting(
              "trust_forwarded_for", &ServerConfig::trust_forwarded_for, false,
              "Take the client address from the last entry of X-Forwarded-For (set "
              "this behind a reverse proxy only: clients can forge the header)."),
          config::string_list_setting(
              "read_tokens", &ServerConfig::read_tokens, "[]",
              "Tokens that may read events, statistics, streams, dead letters, alerts, windows "
              "and pipelines, and `/metrics` (`Authorization: Bearer <token>`, or "
              "`?token=<token>` for a browser's EventSource). Empty: reads are open on a "
              "loopback listener (`127.0.0.1`, `::1`, `localhost`) and closed (401) on any "
              "other, unless `public_reads` is set. Write keys never read. `/healthz` and "
              "`/readyz` stay open. Use `${ENV_VAR}` rather than literal tokens."),
          config::bool_setting(
              "public_reads", &ServerConfig::public_reads, false,
              "Serve every read endpoint to anyone, with no token, even on a listener "
              "that is not a loopback address. Stored events may hold personal data: "
              "set this only when something in front of Sluice controls who reads. "
              "Logged at start."),
          config::section_setting("rate_limit", &ServerConfig::rate_limit, rate_limit_table()),
          config::section_setting("tls", &ServerConfig::tls, tls_table()),
      }};
  return table;
}

bool is_loopback_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  std::string_view host = colon == std::string_view::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::optional<std::string> check_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return fmt::format("\"{}\" is not host:port (for example 127.0.0.1:7070)", listen);
  }
  int port = -1;
  auto port_text = std::string_view(listen).substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return fmt::format("\"{}\" has no valid port (0 to 65535)", listen);
  }
  return std::nullopt;
}

}  // namespace sluice::http
