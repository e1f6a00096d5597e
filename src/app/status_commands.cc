#include "app/status_commands.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <variant>

#include "app/exit_codes.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return json::serialize(v);
}

// GET base + path; the body, or the exit code after saying what went wrong.
std::variant<std::string, int> get(const std::string& command, const std::string& base,
                                   const std::string& path) {
  auto url = boost::urls::parse_uri(base);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    fmt::print(stderr, "sluice {}: --url: \"{}\" is not an http:// URL\n", command, base);
    return kExitUsage;
  }
  const std::string host = url->host();
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(host, port));
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, std::string(url->path()) + path, 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "sluice-" + command);
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    if (res.result_int() != 200) {
      fmt::print(stderr, "sluice {}: {} answered {}: {}\n", command, base, res.result_int(),
                 res.body());
      return kExitFailure;
    }
    return std::move(res.body());
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice {}: cannot reach {}: {}\n", command, base, e.what());
    return kExitFailure;
  }
}

}  // namespace

int run_pipelines_command(const std::string& base, bool as_json) {
  auto answer = get("pipelines", base, "/v1/pipelines");
  if (const int* code = std::get_if<int>(&answer)) return *code;
  const std::string& body = std::get<std::string>(answer);
  if (as_json) {
    fmt::print("{}\n", body);
    return kExitOk;
  }
  const auto parsed = json::parse(body);
  const auto& pipelines = parsed.at("pipelines").as_array();
  if (pipelines.empty()) {
    fmt::print("no pipelines (add them under `pipelines:` in the configuration)\n");
    return kExitOk;
  }
  fmt::print("{:<20} {:<9} {:>10} {:>12} {:>12} {:>8} {:>8}  {}\n", "NAME", "STATE", "LAG", "READ",
             "DELIVERED", "DEAD", "RETRIES", "LAST ERROR");
  for (const auto& item : pipelines) {
    const auto& p = item.as_object();
    fmt::print("{:<20} {:<9} {:>10} {:>12} {:>12} {:>8} {:>8}  {}\n", text_of(p.at("name")),
               text_of(p.at("state")), text_of(p.at("lag")), text_of(p.at("read")),
               text_of(p.at("delivered")), text_of(p.at("dead_lettered")), text_of(p.at("retries")),
               text_of(p.at("last_error")));
  }
  return kExitOk;
}

int run_windows_command(const std::string& base, bool as_json) {
  auto answer = get("windows", base, "/v1/windows");
  if (const int* code = std::get_if<int>(&answer)) return *code;
  const std::string& body = std::get<std::string>(answer);
  if (as_json) {
    fmt::print("{}\n", body);
    return kExitOk;
  }
  const auto parsed = json::parse(body);
  const auto& windows = parsed.at("windows").as_array();
  if (windows.empty()) {
    fmt::print("no windows (add them under `windows:` in the configuration)\n");
    return kExitOk;
  }
  fmt::print("{:<20} {:<9} {:>10} {:>12} {:>8} {:>10} {:>8} {:>8}  {:<24}  {}\n", "NAME", "STATE",
             "LAG", "READ", "LATE", "RESULTS", "OPEN", "ALERTS", "WATERMARK", "LAST ERROR");
  for (const auto& item : windows) {
    const auto& w = item.as_object();
    fmt::print("{:<20} {:<9} {:>10} {:>12} {:>8} {:>10} {:>8} {:>8}  {:<24}  {}\n",
               text_of(w.at("name")), text_of(w.at("state")), text_of(w.at("lag")),
               text_of(w.at("read")), text_of(w.at("late")), text_of(w.at("results")),
               text_of(w.at("open_windows")), text_of(w.at("alerts")), text_of(w.at("watermark")),
               text_of(w.at("last_error")));
  }
  return kExitOk;
}

}  // namespace sluice
