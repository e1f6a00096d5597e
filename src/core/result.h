#pragma once
// Result<T>: the return type of every operation on the event path that can fail.
// Errors carry a category (used for the HTTP status and for retry decisions) and a
// human-readable message that names the field and the limit involved. Exceptions are
// reserved for start-up and for states that end the process.

#include <boost/outcome/result.hpp>
#include <string>
#include <utility>

namespace sluice {

enum class Errc {
  kInvalidInput,  // the client sent something we refuse: permanent, HTTP 400
  kNotFound,      // unknown stream or route: HTTP 404
  kTooLarge,      // over a configured size limit: HTTP 413
  kUnsupported,   // a content type or encoding we do not accept: HTTP 415
  kUnauthorized,  // no credentials where they are required: HTTP 401
  kForbidden,     // credentials that do not allow this: HTTP 403
  kRateLimited,   // over a rate limit: HTTP 429
  kUnavailable,   // storage cannot take more right now: retriable, HTTP 503
  kCorrupt,       // stored data failed its checksum
  kInternal,      // a bug or an unexpected system error
};

struct Error {
  Errc code;
  std::string message;
};

template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace sluice
