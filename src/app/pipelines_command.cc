#include "app/pipelines_command.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

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

}  // namespace

int run_pipelines_command(const std::string& base, bool as_json) {
  auto url = boost::urls::parse_uri(base);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    fmt::print(stderr, "sluice pipelines: --url: \"{}\" is not an http:// URL\n", base);
    return kExitUsage;
  }
  const std::string host = url->host();
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string body;
  unsigned status = 0;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(host, port));
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get,
                                          std::string(url->path()) + "/v1/pipelines", 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "sluice-pipelines");
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    status = res.result_int();
    body = std::move(res.body());
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice pipelines: cannot reach {}: {}\n", base, e.what());
    return kExitFailure;
  }
  if (status != 200) {
    fmt::print(stderr, "sluice pipelines: {} answered {}: {}\n", base, status, body);
    return kExitFailure;
  }
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

}  // namespace sluice
