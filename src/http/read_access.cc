#include "http/read_access.h"

#include <fmt/format.h>

#include "core/logging.h"
#include "http/keys.h"

namespace sluice::http {

ReadAccess::ReadAccess(const ServerConfig& server)
    : server_(server),
      open_(server.public_reads ||
            (server.read_tokens.empty() && is_loopback_listen(server.listen))) {
  if (server.public_reads) {
    logger("http")->warn(
        "server.public_reads: true: every read endpoint answers anyone who reaches {}",
        server.listen);
  } else if (!open_ && server.read_tokens.empty()) {
    logger("http")->warn(
        "reads need a read token: {} is not a loopback address and server.read_tokens is "
        "empty, so every read endpoint answers 401 (set server.read_tokens or "
        "server.public_reads)",
        server.listen);
  }
}

std::optional<Reply> ReadAccess::check(const Request& req, const boost::urls::url_view& url) const {
  if (open_) return std::nullopt;
  const std::string token = read_token(req, url);
  const auto& tokens = server_.read_tokens;
  if (token.empty()) {
    if (tokens.empty()) {
      return error_answer(
          req, make_error(Errc::kUnauthorized,
                          fmt::format("reading needs a read token: this server listens on {}, "
                                      "not a loopback address, and server.read_tokens is "
                                      "empty; set it (or server.public_reads: true)",
                                      server_.listen)));
    }
    return error_answer(
        req, make_error(Errc::kUnauthorized,
                        "reading needs a read token: send Authorization: Bearer <token> (or "
                        "?token=<token>)"));
  }
  bool known = false;
  for (const auto& allowed : tokens)
    known = same_key(token, allowed) || known;  // every token compared: no early exit
  if (known) return std::nullopt;
  return error_answer(
      req, make_error(Errc::kForbidden, "the token is not a read token (server.read_tokens)"));
}

}  // namespace sluice::http
