#include "sinks/sheets/curl_http.h"

#include <curl/curl.h>

#include <charconv>
#include <cstring>

namespace sluice::sinks {
namespace {

constexpr std::size_t kMaxBody = 8 << 20;

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  body->append(data, std::min(n, kMaxBody - std::min(kMaxBody, body->size())));
  return n;
}

std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* answer = static_cast<HttpAnswer*>(user);
  const std::string_view line(data, size * count);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    int seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && seconds >= 0) {
      answer->retry_after = std::chrono::seconds(std::min(seconds, 3600));
    }
  }
  return size * count;
}

}  // namespace

CurlHttp::CurlHttp() : handle_(curl_easy_init()) {}

CurlHttp::~CurlHttp() {
  if (handle_) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

HttpAnswer CurlHttp::request(const std::string& method, const std::string& url,
                             const std::vector<std::string>& headers, const std::string& body,
                             std::chrono::milliseconds timeout, const std::string& ca_file) {
  HttpAnswer answer;
  auto* curl = static_cast<CURL*>(handle_);
  if (!curl) {
    answer.error = "libcurl did not start";
    return answer;
  }
  curl_easy_reset(curl);
  curl_slist* list = nullptr;
  for (const auto& header : headers)
    list = curl_slist_append(list, header.c_str());
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  if (method == "POST") {
    // A POST goes over a connection of its own: on a reused one that turns out closed, libcurl
    // sends the request again by itself, and a POST that the server had applied would be
    // applied twice.
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode result = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (result != CURLE_OK) {
    answer.error = error[0] ? error : curl_easy_strerror(result);
    answer.status = 0;
    return answer;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string url_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace sluice::sinks
