#pragma once
// Who may read: every route registered with Access::kRead (the query API, the tail, status
// pages, metrics) goes through this before its handler. Reads are open with
// server.public_reads, or with no read tokens on a loopback listener; otherwise a read token
// is needed (docs/security.md).

#include <boost/url/url_view.hpp>
#include <optional>

#include "http/route.h"
#include "http/server_settings.h"

namespace sluice::http {

class ReadAccess {
 public:
  // Logs a warning when reads are open to anyone, or closed to everyone.
  explicit ReadAccess(const ServerConfig& server);

  // nullopt lets the request in; else 401 without a token, 403 for any other (a write key gets
  // the same answer as a guess, so reads do not tell them apart).
  std::optional<Reply> check(const Request& req, const boost::urls::url_view& url) const;

 private:
  const ServerConfig& server_;
  bool open_;
};

}  // namespace sluice::http
