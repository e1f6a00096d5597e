#include "app/status_commands.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <variant>
#include <vector>

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

struct Column {
  const char* header;
  const char* field;
  int width;  // negative: left-aligned
};

// GET /v1/<what> and print its list as a table with `columns` (or the JSON as it is).
int print_status(const std::string& base, const std::string& what, bool as_json,
                 const std::vector<Column>& columns) {
  auto answer = get(what, base, "/v1/" + what);
  if (const int* code = std::get_if<int>(&answer)) return *code;
  const std::string& body = std::get<std::string>(answer);
  if (as_json) {
    fmt::print("{}\n", body);
    return kExitOk;
  }
  const auto parsed = json::parse(body);
  const auto& items = parsed.at(what).as_array();
  if (items.empty()) {
    fmt::print("no {0} (add them under `{0}:` in the configuration)\n", what);
    return kExitOk;
  }
  auto row = [&](auto cell) {
    std::string line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const int width = columns[i].width;
      if (i > 0) line += ' ';
      line += width < 0 ? fmt::format("{:<{}}", cell(columns[i]), -width)
                        : fmt::format("{:>{}}", cell(columns[i]), width);
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    fmt::print("{}\n", line);
  };
  row([](const Column& c) { return std::string(c.header); });
  for (const auto& item : items) {
    const auto& object = item.as_object();
    row([&](const Column& c) {
      const auto* value = object.if_contains(c.field);
      return value ? text_of(*value) : std::string();
    });
  }
  return kExitOk;
}

}  // namespace

int run_pipelines_command(const std::string& base, bool as_json) {
  return print_status(base, "pipelines", as_json,
                      {{"NAME", "name", -20},
                       {"STATE", "state", -9},
                       {"LAG", "lag", 10},
                       {"READ", "read", 12},
                       {"DELIVERED", "delivered", 12},
                       {"DEAD", "dead_lettered", 8},
                       {"RETRIES", "retries", 8},
                       {"LAST ERROR", "last_error", -1}});
}

int run_windows_command(const std::string& base, bool as_json) {
  return print_status(base, "windows", as_json,
                      {{"NAME", "name", -20},
                       {"STATE", "state", -9},
                       {"LAG", "lag", 10},
                       {"READ", "read", 12},
                       {"LATE", "late", 8},
                       {"RESULTS", "results", 10},
                       {"OPEN", "open_windows", 8},
                       {"ALERTS", "alerts", 8},
                       {"WATERMARK", "watermark", -24},
                       {"LAST ERROR", "last_error", -1}});
}

}  // namespace sluice
