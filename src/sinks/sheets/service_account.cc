#include "sinks/sheets/service_account.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/time.h"

namespace sluice::sinks {
namespace {

namespace json = boost::json;

std::string base64url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> sign_rs256(const std::string& pem, const std::string& data) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!key) return make_error(Errc::kInvalidInput, "private_key: not a PEM private key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return make_error(Errc::kInvalidInput, "private_key: cannot sign with it");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return make_error(Errc::kInvalidInput, "private_key: cannot sign with it");
  }
  signature.resize(length);
  return signature;
}

}  // namespace

Result<ServiceAccountKey> read_service_account_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(Errc::kInvalidInput, fmt::format("cannot read key file {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = json::parse(text.str(), ec);
  if (ec || !value.is_object()) {
    return make_error(Errc::kInvalidInput, fmt::format("key file {}: not JSON", path));
  }
  const auto& object = value.get_object();
  ServiceAccountKey key;
  auto field = [&](const char* name, std::string& out) -> bool {
    const auto* found = object.if_contains(name);
    if (!found || !found->is_string()) return false;
    out = std::string(found->get_string());
    return true;
  };
  if (!field("client_email", key.client_email) || !field("private_key", key.private_key_pem)) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("key file {}: no client_email or private_key (a service "
                                  "account's JSON key has both)",
                                  path));
  }
  field("token_uri", key.token_uri);
  if (auto signed_test = sign_rs256(key.private_key_pem, "test"); !signed_test) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("key file {}: {}", path, signed_test.error().message));
  }
  return key;
}

Result<std::string> signed_jwt(const ServiceAccountKey& key, const std::string& scope,
                               const std::string& audience, std::int64_t now_seconds) {
  const std::string header = base64url(R"({"alg":"RS256","typ":"JWT"})");
  const json::object claims{{"iss", key.client_email},
                            {"scope", scope},
                            {"aud", audience},
                            {"iat", now_seconds},
                            {"exp", now_seconds + 3600}};
  const std::string unsigned_part = header + "." + base64url(json::serialize(claims));
  auto signature = sign_rs256(key.private_key_pem, unsigned_part);
  if (!signature) return signature.error();
  return unsigned_part + "." + base64url(signature.value());
}

Result<std::string> AccessToken::get(CurlHttp& http, std::chrono::milliseconds timeout,
                                     const std::string& ca_file) {
  const auto now = std::chrono::steady_clock::now();
  if (!token_.empty() && now < refresh_at_) return token_;
  auto jwt = signed_jwt(key_, scope_, token_url_, now_ms() / 1000);
  if (!jwt) return jwt.error();
  const std::string body =
      "grant_type=" + url_escape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
      "&assertion=" + jwt.value();
  const auto answer =
      http.request("POST", token_url_, {"Content-Type: application/x-www-form-urlencoded"}, body,
                   timeout, ca_file);
  if (answer.status != 200) {
    return make_error(Errc::kUnavailable,
                      fmt::format("token endpoint {}: {}", token_url_,
                                  answer.status ? fmt::format("answered {}: {}", answer.status,
                                                              answer.body.substr(0, 200))
                                                : answer.error));
  }
  boost::system::error_code ec;
  auto value = json::parse(answer.body, ec);
  const auto* object = ec ? nullptr : value.if_object();
  const auto* token = object ? object->if_contains("access_token") : nullptr;
  if (!token || !token->is_string()) {
    return make_error(Errc::kUnavailable,
                      fmt::format("token endpoint {}: no access_token in its answer", token_url_));
  }
  std::int64_t expires_in = 3600;
  if (const auto* expires = object->if_contains("expires_in"); expires && expires->is_number()) {
    expires_in = expires->to_number<std::int64_t>();
  }
  token_ = std::string(token->get_string());
  // Renewed a minute before it expires, or at half its life when that is shorter.
  const auto life = std::chrono::seconds(std::max<std::int64_t>(expires_in, 1));
  refresh_at_ = now + std::max<std::chrono::milliseconds>(life - std::chrono::minutes(1), life / 2);
  return token_;
}

}  // namespace sluice::sinks
