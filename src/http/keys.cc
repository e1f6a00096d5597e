#include "http/keys.h"

#include <openssl/crypto.h>

#include <boost/beast/core/string.hpp>

namespace sluice::http {

bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string presented_key(const Request& req, const boost::urls::url_view& url) {
  auto authorization = req[boost::beast::http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      boost::beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return std::string(authorization.substr(kBearer.size()));
  }
  if (auto key = req["X-Sluice-Key"]; !key.empty()) return std::string(key);
  if (url.has_query()) {
    if (auto it = url.params().find("key"); it != url.params().end()) return (*it).value;
  }
  return "";
}

std::string read_token(const Request& req, const boost::urls::url_view& url) {
  const boost::urls::url_view no_query;
  std::string token = presented_key(req, no_query);
  if (token.empty() && url.has_query()) {
    if (auto it = url.params().find("token"); it != url.params().end()) token = (*it).value;
  }
  return token;
}

}  // namespace sluice::http
