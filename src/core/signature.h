#pragma once
// Signed requests. A sender that shares a secret with the receiver adds
//   X-Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
// over the body exactly as sent. The receiver recomputes the HMAC with each secret it accepts
// (several, so a secret can be rotated without a gap), compares in constant time, and refuses
// a timestamp too far from its clock, so a captured request cannot be replayed later.
// Sluice verifies it on streams with hmac_secrets and signs what the webhook sink sends.
// Specified in docs/security.md#signed-requests.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::signature {

inline constexpr std::string_view kHeader = "X-Sluice-Signature";

// The header's value for `body` signed with `secret` at `unix_seconds`.
std::string sign(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

struct Signature {
  std::int64_t unix_seconds = 0;
  std::vector<std::string> digests;  // every v1=, lower-case hex
};

// Parses a header value; nullopt when it is not `t=<digits>,v1=<64 hex digits>[,v1=...]`
// (other keys are ignored, so later schemes can be added beside v1).
std::optional<Signature> parse(std::string_view header);

// Whether one of the digests is the HMAC of `body` at the signature's time under one of
// `secrets`. Constant time in the digests compared.
bool matches(const Signature& signature, const std::vector<std::string>& secrets,
             std::string_view body);

}  // namespace sluice::signature
