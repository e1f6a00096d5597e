#include "core/redact.h"

namespace sluice {
namespace {

bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '-' || c == '.';
}

// Where a URL that starts at `from` ends in free text.
std::size_t url_end(std::string_view text, std::size_t from) {
  constexpr std::string_view kStops = " \t\r\n\"'<>()[]{}`,;";
  auto end = text.find_first_of(kStops, from);
  if (end == std::string_view::npos) end = text.size();
  // "…/x: connection refused": punctuation that ends a sentence is not the URL's.
  while (end > from && std::string_view(".:!?").find(text[end - 1]) != std::string_view::npos)
    --end;
  return end;
}

}  // namespace

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t authority = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view host = url.substr(authority, authority_end - authority);
  if (const auto at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
  std::string out(url.substr(0, authority));
  out += host;
  if (authority_end < url.size() && url.substr(authority_end) != "/") out += "/…";
  return out;
}

std::string redact_urls(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  for (std::size_t found = text.find("://"); found != std::string_view::npos;
       found = text.find("://", found + 3)) {
    std::size_t start = found;
    while (start > copied && scheme_char(text[start - 1]))
      --start;
    if (start == found) continue;  // "://" with no scheme before it
    const std::size_t end = url_end(text, found + 3);
    out.append(text.substr(copied, start - copied));
    out += redact_url(text.substr(start, end - start));
    copied = end;
    found = end > 3 ? end - 3 : end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace sluice
