#pragma once
// One e-mail as SMTP carries it (RFC 5322 with MIME): headers whose values come from events are
// cleaned (no line breaks: a value cannot add a header) and encoded (RFC 2047 for non-ASCII),
// the text body is base64 (no line-length or dot rules to break), lines end in CRLF.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sinks {

struct MailParts {
  std::string from;                     // "Name <address>" or "address"
  std::vector<std::string> recipients;  // addresses
  std::string subject;
  std::string body;        // UTF-8 text
  std::string message_id;  // without the angle brackets
  std::int64_t date_ms = 0;
};

// The message's text.
std::string compose_mail(const MailParts& parts);

// The address of "Name <address>" or "address" when it is a plain `local@domain` (letters,
// digits and .!#$%&'*+/=?^_`{|}~- before the @, a host name after it), at most 254 bytes;
// nullopt otherwise.
std::optional<std::string> mail_address(std::string_view text);

}  // namespace sluice::sinks
