#include "sinks/email/mail_message.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <ctime>

namespace sluice::sinks {
namespace {

constexpr std::size_t kMaxAddressBytes = 254;
constexpr std::size_t kBase64LineBytes = 57;  // 76 characters of base64 a line

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// A header value on one line: line breaks and other control characters become spaces.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// RFC 2047 encoded words for text that is not ASCII, in pieces that keep lines short and
// never split a UTF-8 character.
std::string encoded_words(std::string_view text) {
  if (is_ascii(text)) return std::string(text);
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(start + 45, text.size());
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    if (end == start) end = std::min(start + 45, text.size());  // not UTF-8: cut anywhere
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

bool is_local_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view(".!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

std::string rfc5322_date(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return text;
}

}  // namespace

std::optional<std::string> mail_address(std::string_view text) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  if (!text.empty() && text.back() == '>') {
    const auto open = text.rfind('<');
    if (open == std::string_view::npos) return std::nullopt;
    text = text.substr(open + 1, text.size() - open - 2);
  }
  const auto at = text.find('@');
  if (text.empty() || text.size() > kMaxAddressBytes || at == 0 || at == std::string_view::npos ||
      at + 1 >= text.size()) {
    return std::nullopt;
  }
  const auto local = text.substr(0, at);
  const auto host = text.substr(at + 1);
  if (!std::all_of(local.begin(), local.end(), is_local_char) ||
      !std::all_of(host.begin(), host.end(), is_host_char) || host.front() == '.' ||
      host.back() == '.' || host.find("..") != std::string_view::npos || local.front() == '.' ||
      local.back() == '.' || local.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(text);
}

std::string compose_mail(const MailParts& parts) {
  std::string out;
  // The From line as configured: a display name in it is encoded when not ASCII.
  const auto from_address = mail_address(parts.from).value_or(one_line(parts.from));
  const auto open = parts.from.rfind('<');
  std::string name = open == std::string::npos ? "" : one_line(parts.from.substr(0, open));
  while (!name.empty() && name.back() == ' ')
    name.pop_back();
  out += "From: ";
  out += name.empty() ? from_address : encoded_words(name) + " <" + from_address + ">";
  out += "\r\nTo: ";
  for (std::size_t i = 0; i < parts.recipients.size(); ++i)
    out += (i ? ", " : "") + parts.recipients[i];
  out += "\r\nSubject: " + encoded_words(one_line(parts.subject));
  out += "\r\nDate: " + rfc5322_date(parts.date_ms);
  out += "\r\nMessage-ID: <" + parts.message_id + ">";
  out +=
      "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8"
      "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  // Lines of the body end in CRLF whatever the template wrote.
  std::string body;
  body.reserve(parts.body.size() + 16);
  for (std::size_t i = 0; i < parts.body.size(); ++i) {
    if (parts.body[i] == '\r') continue;
    if (parts.body[i] == '\n') body += '\r';
    body += parts.body[i];
  }
  for (std::size_t i = 0; i < body.size(); i += kBase64LineBytes)
    out += base64(std::string_view(body).substr(i, kBase64LineBytes)) + "\r\n";
  return out;
}

}  // namespace sluice::sinks
