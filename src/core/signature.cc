#include "core/signature.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <charconv>

namespace sluice::signature {
namespace {

constexpr std::size_t kDigestHex = 64;  // SHA-256, hex
constexpr std::size_t kMaxDigests = 8;  // bounds the work a forged header can ask for

std::string hmac_hex(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  const std::string prefix = fmt::format("{}.", unix_seconds);
  // OpenSSL 3's MAC interface: fetched once, a context per call.
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  char sha256[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256, 0),
                               OSSL_PARAM_END};
  unsigned char digest[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  EVP_MAC_CTX* context = EVP_MAC_CTX_new(mac);
  const bool done = context != nullptr &&
                    EVP_MAC_init(context, reinterpret_cast<const unsigned char*>(secret.data()),
                                 secret.size(), params) == 1 &&
                    EVP_MAC_update(context, reinterpret_cast<const unsigned char*>(prefix.data()),
                                   prefix.size()) == 1 &&
                    EVP_MAC_update(context, reinterpret_cast<const unsigned char*>(body.data()),
                                   body.size()) == 1 &&
                    EVP_MAC_final(context, digest, &length, sizeof(digest)) == 1;
  EVP_MAC_CTX_free(context);
  if (!done) return {};  // matches nothing (a digest is never empty)
  std::string hex;
  hex.reserve(length * 2);
  for (std::size_t i = 0; i < length; ++i)
    hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

bool is_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string sign(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  return fmt::format("t={},v1={}", unix_seconds, hmac_hex(secret, unix_seconds, body));
}

std::optional<Signature> parse(std::string_view header) {
  Signature out;
  bool has_time = false;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    const auto equals = part.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view key = part.substr(0, equals);
    const std::string_view value = part.substr(equals + 1);
    if (key == "t") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out.unix_seconds);
      if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
          out.unix_seconds < 0) {
        return std::nullopt;
      }
      has_time = true;
    } else if (key == "v1") {
      if (value.size() != kDigestHex || !is_hex(value) || out.digests.size() >= kMaxDigests) {
        return std::nullopt;
      }
      std::string digest(value);
      for (char& c : digest)
        c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
      out.digests.push_back(std::move(digest));
    }
  }
  if (!has_time || out.digests.empty()) return std::nullopt;
  return out;
}

bool matches(const Signature& signature, const std::vector<std::string>& secrets,
             std::string_view body) {
  bool matched = false;
  for (const auto& secret : secrets) {
    const std::string expected = hmac_hex(secret, signature.unix_seconds, body);
    for (const auto& digest : signature.digests) {
      // Every pair is compared, whatever matched before: the time taken says nothing.
      matched |= digest.size() == expected.size() &&
                 CRYPTO_memcmp(digest.data(), expected.data(), expected.size()) == 0;
    }
  }
  return matched;
}

}  // namespace sluice::signature
