#include "app/generate_command.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "app/exit_codes.h"
#include "core/time.h"
#include "generate/presets.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  std::string port;
  std::string prefix;  // path before the preset's path, without a trailing slash
};

struct Tally {
  std::mutex mutex;
  std::map<std::string, std::size_t> answers;  // "202", "connection refused", ...
  std::size_t requests = 0;
  std::size_t events = 0;
  std::size_t accepted_requests = 0;

  void add(const std::string& answer, std::size_t events_sent, bool ok) {
    std::lock_guard lock(mutex);
    ++answers[answer];
    ++requests;
    if (ok) {
      events += events_sent;
      ++accepted_requests;
    }
  }
};

// One keep-alive connection sending its share of the requests on schedule.
void worker(const GenerateOptions& options, const Target& target, int index, Tally& tally) {
  auto preset = generate::make_preset(options.preset);
  std::mt19937_64 random(options.seed * 1'000'003 + static_cast<std::uint64_t>(index));
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  bool connected = false;
  beast::flat_buffer buffer;
  const std::size_t per_request = options.preset == "web" ? options.batch : 1;
  // This connection sends every `interval`; the connections' schedules are staggered.
  const double requests_per_second = options.rate / static_cast<double>(per_request);
  const auto interval = std::chrono::duration<double>(options.connections / requests_per_second);
  const auto start = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        interval * index / options.connections);
  const auto end = Clock::now() + options.duration;
  for (std::int64_t n = 0;; ++n) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * n);
    if (due >= end) break;
    std::this_thread::sleep_until(due);
    auto request = preset->next(random, per_request, now_ms());
    if (!options.path.empty()) {
      request.path = options.path;
    } else if (!options.stream.empty()) {
      request.path = options.preset == "forms" ? "/v1/forms/" + options.stream
                                               : "/v1/streams/" + options.stream + "/events";
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target.prefix + request.path, 11};
    req.set(bhttp::field::host, target.host);
    req.set(bhttp::field::user_agent, "sluice-generate");
    req.set(bhttp::field::content_type, request.content_type);
    if (!options.key.empty()) req.set(bhttp::field::authorization, "Bearer " + options.key);
    req.keep_alive(true);
    req.body() = std::move(request.body);
    req.prepare_payload();
    try {
      if (!connected) {
        stream.connect(resolver.resolve(target.host, target.port));
        connected = true;
      }
      stream.expires_after(std::chrono::seconds(30));
      bhttp::write(stream, req);
      bhttp::response<bhttp::string_body> res;
      bhttp::read(stream, buffer, res);
      const unsigned status = res.result_int();
      tally.add(std::to_string(status), request.events, status >= 200 && status < 400);
      if (!res.keep_alive()) {
        beast::error_code ignored;
        stream.socket().close(ignored);
        connected = false;
      }
    } catch (const std::exception& e) {
      tally.add(e.what(), 0, false);
      beast::error_code ignored;
      stream.socket().close(ignored);
      connected = false;
    }
  }
}

}  // namespace

int run_generate(const GenerateOptions& options) {
  if (!generate::make_preset(options.preset)) {
    fmt::print(stderr, "sluice generate: unknown preset \"{}\"\n", options.preset);
    return kExitUsage;
  }
  auto url = boost::urls::parse_uri(options.target);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    fmt::print(stderr, "sluice generate: --target must be an http:// URL, got \"{}\"\n",
               options.target);
    return kExitUsage;
  }
  Target target{.host = url->host(),
                .port = url->has_port() ? std::string(url->port()) : "80",
                .prefix = url->path()};
  while (!target.prefix.empty() && target.prefix.back() == '/')
    target.prefix.pop_back();

  Tally tally;
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(options.connections));
  for (int i = 0; i < options.connections; ++i) {
    threads.emplace_back([&, i] { worker(options, target, i, tally); });
  }
  for (auto& t : threads)
    t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  std::string answers;
  for (const auto& [answer, count] : tally.answers) {
    answers += fmt::format("{}{} x{}", answers.empty() ? "" : ", ", answer, count);
  }
  fmt::print(
      "generate: preset {} sent {} events in {} requests over {:.1f} s ({:.0f} events/s); "
      "answers: {}\n",
      options.preset, tally.events, tally.requests, seconds,
      seconds > 0 ? static_cast<double>(tally.events) / seconds : 0.0,
      answers.empty() ? "none" : answers);
  return tally.accepted_requests == tally.requests ? kExitOk : kExitFailure;
}

}  // namespace sluice
