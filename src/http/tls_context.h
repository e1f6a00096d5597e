#pragma once
// The listener's TLS (server.tls): the certificate chain and private key, loaded into an
// OpenSSL server context through Asio (TLS 1.2 and 1.3 only). reload() reads the files again
// (SIGHUP, after a certificate was renewed): new connections get the new context, open ones
// keep theirs; a reload that fails keeps the one in use.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>

#include "core/result.h"
#include "http/server_settings.h"

namespace sluice::http {

class TlsContext {
 public:
  // Loads the files; throws std::runtime_error naming the file and OpenSSL's reason.
  explicit TlsContext(TlsConfig config);

  // The context for a new connection. Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Loads the files again and, if they load, makes them current. Thread-safe.
  Result<void> reload();

 private:
  static Result<std::shared_ptr<boost::asio::ssl::context>> load(const TlsConfig& config);

  const TlsConfig config_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace sluice::http
