#pragma once
// An HTTP response as the server sends it: built by the routes, turned into one buffer and
// written with one call. (Beast's response type keeps each header in its own allocation and
// serialises through a chain of buffer views; for small answers that cost more than the rest
// of the request.)

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::http {

struct Reply {
  unsigned status = 200;
  bool keep_alive = true;
  unsigned version = 11;  // the request's; HTTP/1.0 keep-alive must be announced
  std::string_view content_type = "application/json";        // a literal; empty: none
  std::vector<std::pair<std::string, std::string>> headers;  // besides the ones above
  std::string body;

  // Sets a header, replacing one of the same name.
  void set(std::string_view name, std::string value);
  // "HTTP/1.1 202 Accepted\r\n...\r\n\r\n<body>"
  std::string serialize() const;
};

std::string_view reason_phrase(unsigned status);

}  // namespace sluice::http
