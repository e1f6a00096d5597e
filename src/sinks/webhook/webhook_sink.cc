#include "sinks/webhook/webhook_sink.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <thread>

#include "core/redact.h"
#include "core/signature.h"
#include "core/time.h"
#include "pipeline/event_json.h"

namespace sluice::sinks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Target {
  std::string host, port, path;
  bool https = false;
};

Result<Target> parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->host().empty()) {
    return make_error(Errc::kInvalidInput,
                      fmt::format("\"{}\" is not an http:// or https:// URL", url));
  }
  const bool https = parsed->scheme() == "https";
  Target target{.host = std::string(parsed->host()),
                .port = parsed->has_port() ? std::string(parsed->port())
                        : https            ? "443"
                                           : "80",
                .path = std::string(parsed->encoded_target()),
                .https = https};
  if (target.path.empty()) target.path = "/";
  return target;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_headers(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return make_error(Errc::kInvalidInput, "expected a mapping");
  for (const auto& [name, item] : value.get_object()) {
    if (!item.is_string()) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("{}: expected a string", std::string_view(name)));
    }
    out.emplace_back(std::string(name), std::string(item.get_string()));
  }
  return out;
}

// Retry-After in seconds (the HTTP-date form is treated as "no hint").
std::chrono::milliseconds retry_after(std::string_view value) {
  int seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return {};
  return std::chrono::seconds(std::min(seconds, 3600));
}

}  // namespace

const config::Table& WebhookSink::settings_table() {
  static const config::Table table{
      "webhook",
      "POSTs each batch as a JSON array to a URL; retries 429, 408, 5xx and network errors "
      "(honouring Retry-After); other 4xx answers reject the batch to the dead letters.",
      {
          config::string_setting("url", &Settings::url, "",
                                 "Where to POST: `http://host[:port]/path` or "
                                 "`https://host[:port]/path`. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (auto target = parse_target(v.text); !target) {
                                     return target.error().message;
                                   }
                                   return std::nullopt;
                                 }),
          config::document_setting("headers", &Settings::headers,
                                   "Extra request headers, such as `{Authorization: \"Bearer "
                                   "${HOOK_TOKEN}\"}`.",
                                   [](const config::Scalar& v) -> std::optional<std::string> {
                                     if (auto h = parse_headers(v.text); !h) {
                                       return h.error().message;
                                     }
                                     return std::nullopt;
                                   }),
          config::duration_setting("timeout", &Settings::timeout, "10s", 100, 600'000,
                                   "Time allowed for connecting, sending and the answer; "
                                   "after it the batch is retried."),
          config::int_setting("rate_limit", &Settings::rate_limit, 0, 0, 100'000,
                              "Most requests per second; 0: no limit."),
          config::bool_setting("payload_only", &Settings::payload_only, false,
                               "Send each event's payload alone instead of the envelope."),
          config::string_setting("ca_file", &Settings::ca_file, "",
                                 "https: PEM file of the certificates to trust (a private CA); "
                                 "empty: the system's trust store."),
          config::string_setting(
              "hmac_secret", &Settings::hmac_secret, "",
              "Signs each request so the receiver can tell it comes from here: "
              "`X-Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + the "
              "body>` (docs/security.md#signed-requests; a retry is signed anew). At least 16 "
              "characters; use `${ENV_VAR}`. Empty: unsigned.",
              [](const config::Scalar& v) -> std::optional<std::string> {
                if (!v.text.empty() && v.text.size() < 16) {
                  return "a secret has at least 16 characters";
                }
                return std::nullopt;
              }),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> WebhookSink::open(const pipeline::SinkContext&,
                                                          const Settings& settings) {
  auto target = parse_target(settings.url);
  if (!target) return target.error();
  std::optional<asio::ssl::context> tls;
  if (target.value().https) {
    tls.emplace(asio::ssl::context::tls_client);
    boost::system::error_code error;
    if (settings.ca_file.empty()) {
      tls->set_default_verify_paths(error);
    } else {
      tls->load_verify_file(settings.ca_file, error);
    }
    if (error) {
      return make_error(Errc::kInvalidInput,
                        fmt::format("ca_file {}: {}", settings.ca_file, error.message()));
    }
    tls->set_verify_mode(asio::ssl::verify_peer);
  }
  return std::unique_ptr<pipeline::Sink>(std::make_unique<WebhookSink>(
      settings, target.value().host, target.value().port, target.value().path, std::move(tls)));
}

WebhookSink::WebhookSink(Settings settings, std::string host, std::string port, std::string target,
                         std::optional<asio::ssl::context> tls)
    : settings_(std::move(settings)),
      host_(std::move(host)),
      port_(std::move(port)),
      target_(std::move(target)),
      extra_headers_(parse_headers(settings_.headers).value()),
      tls_context_(std::move(tls)) {}

beast::error_code WebhookSink::connect() {
  beast::error_code error;
  if (connected_) return error;
  if (tls_context_) {
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_context_);
    // SNI, and the certificate must name the host.
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), host_.c_str())) {
      return {static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()};
    }
    tls_->set_verify_callback(asio::ssl::host_name_verification(host_));
  } else {
    plain_ = std::make_unique<beast::tcp_stream>(io_);
  }
  tcp().expires_after(settings_.timeout);
  asio::ip::tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(host_, port_, error);
  if (error) return error;
  tcp().async_connect(endpoints, [&](beast::error_code ec, const auto&) {
    error = ec;
    if (ec || !tls_) return;
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [&](beast::error_code handshake_error) { error = handshake_error; });
  });
  io_.restart();
  io_.run();
  connected_ = !error;
  return error;
}

void WebhookSink::close() {
  if (plain_ || tls_) {
    beast::error_code ignored;
    tcp().socket().close(ignored);
  }
  plain_.reset();
  tls_.reset();
  connected_ = false;
  buffer_.clear();
}

void WebhookSink::wait_for_rate_limit() {
  if (settings_.rate_limit <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (next_request_ > now) std::this_thread::sleep_until(next_request_);
  next_request_ =
      std::max(now, next_request_) + std::chrono::microseconds(1'000'000 / settings_.rate_limit);
}

pipeline::WriteOutcome WebhookSink::write(const pipeline::SinkBatch& batch) {
  if (batch.records.empty()) return pipeline::WriteOutcome::delivered();
  wait_for_rate_limit();
  http::request<http::string_body> request{http::verb::post, target_, 11};
  const bool default_port = port_ == (tls_context_ ? "443" : "80");
  request.set(http::field::host, default_port ? host_ : host_ + ":" + port_);
  request.set(http::field::user_agent, "sluice");
  request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : extra_headers_)
    request.set(name, value);
  std::string& body = request.body();
  body = "[";
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    if (i > 0) body += ',';
    if (settings_.payload_only) {
      body += batch.records[i].event.payload;
    } else {
      pipeline::append_event_json(body, batch.records[i]);
    }
  }
  body += ']';
  if (!settings_.hmac_secret.empty()) {
    request.set(signature::kHeader, signature::sign(settings_.hmac_secret, now_ms() / 1000, body));
  }
  request.prepare_payload();

  // One exchange, all of it bounded by the timeout: connect if needed, send, read the answer.
  http::response<http::string_body> response;
  beast::error_code error;
  const bool reused = connected_;
  auto exchange = [&]() {
    response = {};
    error = connect();
    if (error) return;
    tcp().expires_after(settings_.timeout);
    with_stream([&](auto& stream) {
      http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
        error = ec;
        if (ec) return;
        http::async_read(stream, buffer_, response,
                         [&](beast::error_code read_error, std::size_t) { error = read_error; });
      });
    });
    io_.restart();
    io_.run();
  };
  exchange();
  if (error && reused) {
    // The server may have closed the kept-alive connection meanwhile: once more, afresh (and
    // within the rate limit: the receiver may have seen the first attempt).
    close();
    wait_for_rate_limit();
    exchange();
  }
  if (error) {
    close();
    return pipeline::WriteOutcome::retry(
        fmt::format("{}: {}", redact_url(settings_.url),
                    error == beast::error::timeout
                        ? fmt::format("no answer within {} ms", settings_.timeout.count())
                        : error.message()));
  }
  if (!response.keep_alive()) close();
  const unsigned status = response.result_int();
  if (status >= 200 && status < 300) return pipeline::WriteOutcome::delivered();
  const std::string answer = response.body().substr(0, 200);
  const std::string reason =
      fmt::format("{} answered {}: {}", redact_url(settings_.url), status, answer);
  if (status == 429 || status == 408 || status >= 500) {
    return pipeline::WriteOutcome::retry(reason, retry_after(response[http::field::retry_after]));
  }
  // 400, 413 and 422 are about what was sent: splitting the batch finds the events at fault.
  // Others (401, 403, 404, ...) would refuse any batch.
  if (status == 400 || status == 413 || status == 422) {
    return pipeline::WriteOutcome::rejected(reason);
  }
  return pipeline::WriteOutcome::rejected_whole(reason);
}

}  // namespace sluice::sinks
