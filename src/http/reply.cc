#include "http/reply.h"

#include <strings.h>

#include <array>
#include <charconv>

namespace sluice::http {

void Reply::set(std::string_view name, std::string value) {
  for (auto& [existing, text] : headers) {
    if (existing.size() == name.size() &&
        strncasecmp(existing.data(), name.data(), name.size()) == 0) {
      text = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

// Plain appends: this runs for every request, and fmt's format-string parsing cost more than
// the rest of the serialisation.
std::string Reply::serialize() const {
  std::string out;
  out.reserve(160 + body.size());
  std::array<char, 24> digits{};
  auto append_number = [&](std::size_t value) {
    auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
    out.append(digits.data(), end);
  };
  out += "HTTP/1.1 ";
  append_number(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nServer: sluice\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  // A 304 has no body and must not announce one (its length would be the full answer's).
  if (status != 304) {
    out += "Content-Length: ";
    append_number(body.size());
    out += "\r\n";
  }
  for (const auto& [name, value] : headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace sluice::http
