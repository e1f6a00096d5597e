#include "sources/http/privacy.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>

namespace sluice::collector {

std::optional<std::string> anonymize_ip(std::string_view address) {
  const std::string text(address);
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    bytes[3] = 0;
    if (!inet_ntop(AF_INET, bytes.data(), out.data(), out.size())) return std::nullopt;
    return std::string(out.data());
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    std::memset(bytes.data() + 6, 0, 10);  // keep the first 48 bits
    if (!inet_ntop(AF_INET6, bytes.data(), out.data(), out.size())) return std::nullopt;
    return std::string(out.data());
  }
  return std::nullopt;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data(), &length);
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i)
    hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace sluice::collector
