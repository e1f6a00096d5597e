#pragma once
// webhook: each batch as one HTTP POST of a JSON array to a URL. 2xx is delivered; 429, 408 and
// 5xx (and connection failures and timeouts) are retried, after Retry-After when the answer
// gives one; any other 4xx is a permanent rejection (the batch goes to the pipeline's dead
// letters with the status and the start of the answer). At most `rate_limit` requests per
// second. The connection is kept alive between batches.
//
// https URLs are verified against the system's trust store (or `ca_file`), with the host name.
//
// At-least-once: a batch whose answer was lost is sent again.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "config/table.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class WebhookSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string url;
    std::string headers;  // JSON object of extra request headers
    std::chrono::milliseconds timeout{};
    int rate_limit = 0;  // requests per second; 0: no limit
    bool payload_only = false;
    std::string ca_file;      // https: trusted certificates (PEM); empty: the system's
    std::string hmac_secret;  // signs each request (core/signature.h); empty: unsigned
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  WebhookSink(Settings settings, std::string host, std::string port, std::string target,
              std::optional<boost::asio::ssl::context> tls);
  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  void wait_for_rate_limit();
  // Connects (and for https shakes hands) unless connected; the error otherwise.
  boost::beast::error_code connect();
  void close();
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  // Calls f with the stream requests go over: the TLS stream for https, else the TCP one.
  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  Settings settings_;
  std::string host_;
  std::string port_;
  std::string target_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  boost::asio::io_context io_;
  std::optional<boost::asio::ssl::context> tls_context_;  // set for https
  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
  std::chrono::steady_clock::time_point next_request_{};
};

}  // namespace sluice::sinks
