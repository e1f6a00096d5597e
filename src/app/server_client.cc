#include "app/server_client.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <optional>

#include "app/exit_codes.h"
#include "config/config.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct Endpoint {
  std::string host;
  std::string port;
  std::string prefix;  // the URL's path, without a trailing slash
};

std::optional<Endpoint> endpoint_of(const std::string& command, const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
    fmt::print(stderr,
               "sluice {}: \"{}\" is not an http:// URL (set --url or SLUICE_URL; this command "
               "speaks plain HTTP, so reach a TLS listener through its loopback address)\n",
               command, url);
    return std::nullopt;
  }
  std::string prefix(parsed->path());
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  return Endpoint{std::string(parsed->host()),
                  parsed->has_port() ? std::string(parsed->port()) : "80", prefix};
}

// One line for an error on the way to the server: the system's words, not Boost.Asio's.
std::string reason(const std::exception& e) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&e)) {
    return system->code().message();
  }
  return e.what();
}

void print_unreachable(const std::string& command, const ServerTarget& target,
                       const std::string& why) {
  fmt::print(stderr,
             "sluice {}: cannot reach the server at {}: {} (is it running? give its address "
             "with --url or SLUICE_URL)\n",
             command, target.url, why);
}

bhttp::request<bhttp::empty_body> request_for(const Endpoint& at, const ServerTarget& target,
                                              const std::string& command,
                                              const std::string& path_and_query) {
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, at.prefix + path_and_query, 11};
  req.set(bhttp::field::host, at.host);
  req.set(bhttp::field::user_agent, "sluice-" + command);
  if (!target.token.empty()) req.set(bhttp::field::authorization, "Bearer " + target.token);
  return req;
}

// The "error" of a JSON error answer, or the body as it is.
std::string error_of(const std::string& body) {
  const auto at = body.find("\"error\":\"");
  if (at == std::string::npos) return body;
  const auto end = body.rfind("\"}");
  if (end == std::string::npos || end < at + 9) return body;
  return body.substr(at + 9, end - at - 9);
}

int print_refusal(const std::string& command, const ServerTarget& target, unsigned status,
                  const std::string& body) {
  std::string hint;
  if (status == 401 || status == 403) hint = " (give a read token with --token or SLUICE_TOKEN)";
  fmt::print(stderr, "sluice {}: {} answered {}: {}{}\n", command, target.url, status,
             error_of(body), hint);
  return kExitFailure;
}

}  // namespace

std::optional<std::string> resolve_target(ServerTarget& target, const std::string& config_file) {
  if (target.url.empty()) {
    // (Read once, before any thread starts.)
    const char* env = std::getenv("SLUICE_URL");  // NOLINT(concurrency-mt-unsafe)
    if (env && *env) target.url = env;
  }
  if (target.token.empty()) {
    const char* env = std::getenv("SLUICE_TOKEN");  // NOLINT(concurrency-mt-unsafe)
    if (env && *env) target.token = env;
  }
  if (!config_file.empty() && (target.url.empty() || target.token.empty())) {
    auto loaded = config::load_file(config_file);
    if (!loaded.ok()) return config::format_errors(loaded.errors, config_file);
    const auto& server = loaded.config.server;
    if (target.url.empty()) {
      std::string listen = server.listen;
      // A wildcard listener is reached through loopback.
      if (listen.starts_with("0.0.0.0:")) listen = "127.0.0.1" + listen.substr(7);
      if (listen.starts_with("[::]:")) listen = "[::1]" + listen.substr(4);
      target.url = "http://" + listen;
    }
    if (target.token.empty() && !server.read_tokens.empty()) target.token = server.read_tokens[0];
  }
  if (target.url.empty()) target.url = "http://127.0.0.1:7070";
  return std::nullopt;
}

std::variant<std::string, int> get_from_server(const std::string& command,
                                               const ServerTarget& target,
                                               const std::string& path_and_query) {
  const auto at = endpoint_of(command, target.url);
  if (!at) return kExitUsage;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(at->host, at->port));
    bhttp::write(stream, request_for(*at, target, command, path_and_query));
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    if (res.result_int() != 200) {
      return print_refusal(command, target, res.result_int(), res.body());
    }
    return std::move(res.body());
  } catch (const std::exception& e) {
    print_unreachable(command, target, reason(e));
    return kExitFailure;
  }
}

std::variant<Answer, int> post_to_server(const std::string& command, const ServerTarget& target,
                                         const std::string& path, const std::string& body,
                                         const std::string& content_type, const std::string& key) {
  const auto at = endpoint_of(command, target.url);
  if (!at) return kExitUsage;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.connect(resolver.resolve(at->host, at->port));
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, at->prefix + path, 11};
    req.set(bhttp::field::host, at->host);
    req.set(bhttp::field::user_agent, "sluice-" + command);
    req.set(bhttp::field::content_type, content_type);
    if (!key.empty()) req.set("X-Sluice-Key", key);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    return Answer{res.result_int(), std::move(res.body())};
  } catch (const std::exception& e) {
    print_unreachable(command, target, reason(e));
    return kExitFailure;
  }
}

int follow_events(const std::string& command, const ServerTarget& target,
                  const std::string& path_and_query,
                  const std::function<bool(const std::string&, const std::string&)>& on_event) {
  const auto at = endpoint_of(command, target.url);
  if (!at) return kExitUsage;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    asio::ip::tcp::socket socket(io);
    asio::connect(socket, resolver.resolve(at->host, at->port));
    bhttp::write(socket, request_for(*at, target, command, path_and_query));
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    bhttp::read_header(socket, buffer, parser);
    if (parser.get().result_int() != 200) {
      bhttp::response_parser<bhttp::string_body> rest(std::move(parser));
      boost::system::error_code ignored;
      bhttp::read(socket, buffer, rest, ignored);
      return print_refusal(command, target, rest.get().result_int(), rest.get().body());
    }
    // Blocks end with an empty line; within one, `event:` names it and `data:` lines carry it.
    std::string pending;
    char chunk[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      boost::system::error_code ec;
      // read_some, not read: a block is handed on as soon as it arrives, not once the chunk
      // buffer is full.
      bhttp::read_some(socket, buffer, parser, ec);
      // The server closed the stream (after a `dropped` block, or on its way down).
      const bool ended = ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
                         ec == asio::error::eof;
      if (ec && !ended && ec != bhttp::error::need_buffer) throw boost::system::system_error(ec);
      pending.append(chunk, sizeof chunk - parser.get().body().size);
      for (auto end = pending.find("\n\n"); end != std::string::npos; end = pending.find("\n\n")) {
        const std::string block = pending.substr(0, end);
        pending.erase(0, end + 2);
        std::string event = "message", data;
        std::size_t line_start = 0;
        while (line_start <= block.size()) {
          auto line_end = block.find('\n', line_start);
          if (line_end == std::string::npos) line_end = block.size();
          const std::string_view line(block.data() + line_start, line_end - line_start);
          if (line.starts_with("event:")) {
            event = std::string(line.substr(line.starts_with("event: ") ? 7 : 6));
          } else if (line.starts_with("data:")) {
            if (!data.empty()) data += '\n';
            data += line.substr(line.starts_with("data: ") ? 6 : 5);
          }
          line_start = line_end + 1;
        }
        if (!data.empty() && !on_event(event, data)) return kExitOk;
      }
      if (ended) break;
    }
    return kExitOk;
  } catch (const std::exception& e) {
    print_unreachable(command, target, reason(e));
    return kExitFailure;
  }
}

}  // namespace sluice
