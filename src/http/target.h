#pragma once
// A request's target as a path and query parameters. Most targets are a plain path
// ("/v1/streams/web/events"): those skip boost.url's parse, which cost more than the rest of
// the routing.

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <string_view>

namespace sluice::http {

// "/" followed by unreserved characters and slashes only: nothing to parse or decode.
inline bool is_plain_path(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (char c : target) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (!plain) return false;
  }
  return true;
}

// The target as a URL, for its query parameters: empty for a plain path and for a target that
// does not parse (routing refuses that).
inline boost::urls::url_view target_url(std::string_view target) {
  if (is_plain_path(target)) return {};
  auto parsed = boost::urls::parse_origin_form(target);
  return parsed ? *parsed : boost::urls::url_view();
}

}  // namespace sluice::http
