#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace sluice::http {
namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's reason for the last failure, e.g. "no start line" for a file that is not PEM.
std::string reason(const boost::system::error_code& error) {
  std::string text = error.message();
  if (const char* openssl = ERR_reason_error_string(static_cast<unsigned long>(error.value()))) {
    text = openssl;
  }
  return text;
}

}  // namespace

TlsContext::TlsContext(TlsConfig config) : config_(std::move(config)) {
  auto loaded = load(config_);
  if (!loaded) throw std::runtime_error(loaded.error().message);
  current_ = std::move(loaded.value());
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Result<void> TlsContext::reload() {
  auto loaded = load(config_);
  if (!loaded) return loaded.error();
  std::lock_guard lock(mutex_);
  current_ = std::move(loaded.value());
  return boost::outcome_v2::success();
}

Result<std::shared_ptr<ssl::context>> TlsContext::load(const TlsConfig& config) {
  if (config.cert_file.empty() || config.key_file.empty()) {
    return make_error(Errc::kInvalidInput,
                      "server.tls needs both cert_file and key_file (PEM files)");
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code error;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       error);
  context->use_certificate_chain_file(config.cert_file, error);
  if (error) {
    return make_error(Errc::kInvalidInput,
                      "server.tls.cert_file \"" + config.cert_file +
                          "\": cannot load a PEM certificate: " + reason(error));
  }
  context->use_private_key_file(config.key_file, ssl::context::pem, error);
  if (error) {
    return make_error(Errc::kInvalidInput,
                      "server.tls.key_file \"" + config.key_file +
                          "\": cannot load a PEM private key: " + reason(error));
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return make_error(Errc::kInvalidInput, "server.tls.key_file \"" + config.key_file +
                                               "\" is not the key of server.tls.cert_file \"" +
                                               config.cert_file + "\"");
  }
  return context;
}

}  // namespace sluice::http
