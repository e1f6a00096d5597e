// The common answers of route.h.
#include <fmt/format.h>

#include "core/json_text.h"
#include "http/route.h"

namespace sluice::http {

unsigned status_for(Errc code) {
  switch (code) {
    case Errc::kInvalidInput:
      return 400;
    case Errc::kNotFound:
      return 404;
    case Errc::kTooLarge:
      return 413;
    case Errc::kUnauthorized:
      return 401;
    case Errc::kForbidden:
      return 403;
    case Errc::kRateLimited:
      return 429;
    case Errc::kUnsupported:
      return 415;
    case Errc::kUnavailable:
      return 503;
    case Errc::kCorrupt:
    case Errc::kInternal:
      return 500;
  }
  return 500;
}

std::string error_json(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out += "}";
  return out;
}

Reply answer(const Request& req, unsigned status, std::string body) {
  Reply res{.status = status, .keep_alive = req.keep_alive(), .version = req.version()};
  res.body = std::move(body);
  if (status == 503) res.set("Retry-After", "1");
  if (status == 401) res.set("WWW-Authenticate", "Bearer realm=\"sluice\"");
  return res;
}

Reply error_answer(const Request& req, const Error& error) {
  return answer(req, status_for(error.code), error_json(error.message));
}

Reply method_not_allowed(const Request& req, std::string_view allow) {
  auto res = answer(
      req, 405,
      error_json(fmt::format("method {} is not allowed on {}; use {}",
                             std::string(req.method_string()), std::string(req.target()), allow)));
  res.set("Allow", std::string(allow));
  return res;
}

Task<Reply> ready(Reply reply) {
  co_return reply;
}

Route absent_route(std::string pattern, std::string message) {
  return {.pattern = std::move(pattern),
          .allow = "GET",
          .access = Access::kRead,
          .handler = [message = std::move(message)](Request& req, const Call&) {
            return ready(error_answer(req, make_error(Errc::kNotFound, message)));
          }};
}

}  // namespace sluice::http
