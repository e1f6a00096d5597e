#pragma once
// Plain HTTP requests through libcurl, for sinks that speak to web APIs one request at a time.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sluice::sinks {

struct HttpAnswer {
  long status = 0;                           // 0: no answer (error says why)
  std::string body;                          // at most 8 MiB of it
  std::string error;                         // transport failure
  std::chrono::milliseconds retry_after{0};  // Retry-After in seconds, when given
};

class CurlHttp {
 public:
  CurlHttp();
  ~CurlHttp();
  CurlHttp(const CurlHttp&) = delete;
  CurlHttp& operator=(const CurlHttp&) = delete;

  // `method` GET or POST; `headers` "Name: value" lines.
  HttpAnswer request(const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const std::string& body,
                     std::chrono::milliseconds timeout, const std::string& ca_file = "");

 private:
  void* handle_;
};

// `text` percent-encoded for a URL's path or query.
std::string url_escape(const std::string& text);

}  // namespace sluice::sinks
