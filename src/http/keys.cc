#include "http/keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/beast/core/string.hpp>

namespace sluice::http {

bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

// Basic credentials' user name, or the password when the name is empty (SDKs that send their
// write key this way put it in either). Empty when the text is not base64 of "user:password".
std::string basic_key(std::string_view encoded) {
  // Longer credentials are no key any stream could have.
  if (encoded.empty() || encoded.size() > 4096 || encoded.size() % 4 != 0) return "";
  std::string decoded(encoded.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(encoded.data()),
                                     static_cast<int>(encoded.size()));
  if (length < 0) return "";
  // EVP_DecodeBlock counts the padding's zero bytes.
  std::size_t size = static_cast<std::size_t>(length);
  for (std::size_t i = encoded.size(); i > 0 && encoded[i - 1] == '='; --i)
    --size;
  decoded.resize(size);
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return "";
  if (colon > 0) return decoded.substr(0, colon);
  return decoded.substr(colon + 1);
}

}  // namespace

std::string presented_key(const Request& req, const boost::urls::url_view& url) {
  auto authorization = req[boost::beast::http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      boost::beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return std::string(authorization.substr(kBearer.size()));
  }
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() > kBasic.size() &&
      boost::beast::iequals(authorization.substr(0, kBasic.size()), kBasic)) {
    const auto encoded = authorization.substr(kBasic.size());
    return basic_key(std::string_view(encoded.data(), encoded.size()));
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
