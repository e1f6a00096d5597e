#pragma once
// Personal-data helpers: IP anonymisation and keyed hashing.

#include <optional>
#include <string>
#include <string_view>

namespace sluice::collector {

// The address with its last octet (IPv4) or last 80 bits (IPv6) zeroed, in canonical text;
// nullopt when `address` is not an IP address.
std::optional<std::string> anonymize_ip(std::string_view address);

// Lower-case hex HMAC-SHA-256 of `text` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view text);

}  // namespace sluice::collector
