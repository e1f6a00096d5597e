#include "sources/http/reply.h"

#include <fmt/format.h>
#include <strings.h>

#include <iterator>

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

std::string Reply::serialize() const {
  std::string out;
  out.reserve(160 + body.size());
  auto to = std::back_inserter(out);
  fmt::format_to(to, "HTTP/1.1 {} {}\r\nServer: sluice\r\n", status, reason_phrase(status));
  if (!content_type.empty()) fmt::format_to(to, "Content-Type: {}\r\n", content_type);
  fmt::format_to(to, "Content-Length: {}\r\n", body.size());
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
