#pragma once
// One connection's requests, until it closes: reading each request within the server's
// timeouts and limits, the checks every route shares (rate limits, a route's precheck, read
// access, methods), the route's handler, and the answer.

#include <boost/asio/ssl/stream.hpp>
#include <string>

#include "http/connection_drain.h"
#include "http/io_types.h"
#include "http/rate_limiter.h"
#include "http/read_access.h"
#include "http/request_metrics.h"
#include "http/router.h"
#include "http/server_settings.h"

namespace sluice::http {

// A connection is a Socket, or a TLS stream over one (server.tls).
using TlsStream = boost::asio::ssl::stream<Socket>;

// What every connection of a server shares. Read-only while serving but for the limiters'
// and metrics' own atomics and locks.
struct FrontDoor {
  const ServerConfig& config;
  const Router& router;
  const ReadAccess& access;
  RateLimiter& per_ip;       // posts
  RateLimiter& read_per_ip;  // the rest, but the probes
  RequestMetrics& metrics;
};

// Serves the requests of `stream` until it closes. `peer` is the client's address.
template <class Stream>
Task<void> serve_connection(Stream& stream, const std::string& peer, ConnectionDrain& drain,
                            FrontDoor& door);

extern template Task<void> serve_connection(Socket&, const std::string&, ConnectionDrain&,
                                            FrontDoor&);
extern template Task<void> serve_connection(TlsStream&, const std::string&, ConnectionDrain&,
                                            FrontDoor&);

// The TCP socket under a connection, for its deadline, its drain and its shutdown.
inline Socket& tcp_of(Socket& stream) {
  return stream;
}
inline Socket& tcp_of(TlsStream& stream) {
  return stream.next_layer();
}

}  // namespace sluice::http
