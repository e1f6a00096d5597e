#pragma once
// Google service-account credentials: the key file's account and private key, turned into an
// OAuth2 access token by the JWT bearer grant (RFC 7523): a JWT signed RS256 with the key is
// exchanged at the token endpoint, and the token is used until shortly before it expires.

#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"
#include "sinks/sheets/curl_http.h"

namespace sluice::sinks {

struct ServiceAccountKey {
  std::string client_email;
  std::string private_key_pem;
  std::string token_uri;
};

// Reads a key file as the Google Cloud console downloads it (JSON with client_email,
// private_key and token_uri).
Result<ServiceAccountKey> read_service_account_key(const std::string& path);

// The signed JWT asking for `scope` at `audience` (the token endpoint), valid for an hour from
// `now_seconds`.
Result<std::string> signed_jwt(const ServiceAccountKey& key, const std::string& scope,
                               const std::string& audience, std::int64_t now_seconds);

class AccessToken {
 public:
  AccessToken(ServiceAccountKey key, std::string scope, std::string token_url)
      : key_(std::move(key)), scope_(std::move(scope)), token_url_(std::move(token_url)) {}
  // A valid token, fetched anew when there is none or it expires within a minute (or half
  // its life); the error (with the endpoint's answer) otherwise.
  Result<std::string> get(CurlHttp& http, std::chrono::milliseconds timeout,
                          const std::string& ca_file);
  // The API refused the token (401): the next get() fetches a new one.
  void forget() { token_.clear(); }

 private:
  ServiceAccountKey key_;
  std::string scope_;
  std::string token_url_;
  std::string token_;
  std::chrono::steady_clock::time_point refresh_at_{};
};

}  // namespace sluice::sinks
