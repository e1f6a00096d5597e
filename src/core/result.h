#pragma once
// Result<T>: the return type of every operation on the event path that can fail.
// Errors carry a code (the HTTP status a client gets), a fault (whether trying again can help,
// for the consumer runtime's retries and the batch splitting of the store writer and the SQL
// sinks) and a human-readable message that names the field and the limit involved. The module
// that knows the cause decides the fault (store/pg_connection.h and store/sqlite_db.h for the
// databases); otherwise the code's usual one applies. Exceptions are reserved for start-up and
// for states that end the process.

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

// Whether doing the same again can succeed.
enum class Fault {
  kTransient,  // it may pass (a lost connection, a lock, a full disk, a server away): retry
  kData,       // what was sent is refused (a value a column cannot take): it fails every time;
               // split a batch to find the events at fault and send them to the dead letters
  kPermanent,  // nothing in the data: it fails until someone changes something (a missing
               // permission, corrupt records); retried at the longest interval, and reported
};

// The usual fault of an error code, when the module does not say.
constexpr Fault usual_fault(Errc code) {
  switch (code) {
    case Errc::kUnavailable:
    case Errc::kRateLimited:
    case Errc::kInternal:
      return Fault::kTransient;
    case Errc::kInvalidInput:
    case Errc::kTooLarge:
      return Fault::kData;
    case Errc::kNotFound:
    case Errc::kUnsupported:
    case Errc::kUnauthorized:
    case Errc::kForbidden:
    case Errc::kCorrupt:
      return Fault::kPermanent;
  }
  return Fault::kTransient;
}

struct Error {
  Errc code;
  std::string message;
  Fault fault = usual_fault(code);
};

template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message), usual_fault(code)};
}

inline Error make_error(Errc code, std::string message, Fault fault) {
  return Error{code, std::move(message), fault};
}

constexpr const char* fault_name(Fault fault) {
  switch (fault) {
    case Fault::kTransient:
      return "transient";
    case Fault::kData:
      return "data";
    case Fault::kPermanent:
      return "permanent";
  }
  return "transient";
}

}  // namespace sluice
