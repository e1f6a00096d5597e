#include "sinks/email/email_sink.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <xxhash.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstring>
#include <filesystem>

#include "core/logging.h"
#include "core/time.h"
#include "pipeline/message_template.h"
#include "sinks/email/mail_message.h"

namespace sluice::sinks {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxRecipients = 50;

bool url_ok(const std::string& url) {
  return url.starts_with("smtp://") || url.starts_with("smtps://");
}

// The file name part of a consumer ("pipeline.forms"): letters, digits, . _ - only.
std::string file_name(const std::string& consumer) {
  std::string out = consumer;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  return out;
}

struct Upload {
  std::string_view data;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data.size());
  std::memcpy(buffer, upload->data.data(), n);
  upload->data.remove_prefix(n);
  return n;
}

}  // namespace

struct EmailSink::Curl {
  CURL* handle = curl_easy_init();
  ~Curl() {
    if (handle) curl_easy_cleanup(handle);
  }
};

const config::Table& EmailSink::settings_table() {
  static const config::Table table{
      "email",
      "Sends one mail per event over SMTP, its recipients, subject and body made from the "
      "event's fields (`{field}`, as alert messages). Sends no mail twice for an event: the "
      "ids of accepted mails are kept under storage.data_dir. A recipient that is not an "
      "address or a permanent refusal (5xx) sends the event to the dead letters; other "
      "failures are retried.",
      {
          config::string_setting("url", &Settings::url, "",
                                 "The SMTP server: `smtp://host[:port]` (port 25 by default; "
                                 "587 with `starttls`) or `smtps://host[:port]` (TLS from the "
                                 "start, port 465). Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (!url_ok(v.text)) {
                                     return "expected smtp://host[:port] or smtps://host[:port]";
                                   }
                                   return std::nullopt;
                                 }),
          config::bool_setting("starttls", &Settings::starttls, false,
                               "smtp://: require STARTTLS before anything is sent (the "
                               "server's certificate is verified)."),
          config::string_setting("username", &Settings::username, "",
                                 "Login name (AUTH); empty: no login."),
          config::string_setting("password", &Settings::password, "",
                                 "Login password; use `${ENV_VAR}`."),
          config::string_setting("ca_file", &Settings::ca_file, "",
                                 "PEM file of the certificates to trust for TLS (a private "
                                 "CA); empty: the system's trust store."),
          config::string_setting("from", &Settings::from, "",
                                 "The sender: `address` or `Name <address>`. Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (!mail_address(v.text)) {
                                     return "expected an address such as \"Forms "
                                            "<forms@example.org>\"";
                                   }
                                   return std::nullopt;
                                 }),
          config::string_list_setting("to", &Settings::to, "[]",
                                      "Recipients, each an address or a template such as "
                                      "`\"{email}\"` (a field holding one address). Required."),
          config::string_setting("subject", &Settings::subject, "",
                                 "The subject, a template (`Thanks, {name}`)."),
          config::string_setting("body", &Settings::body, "",
                                 "The text, a template; `{field}` inserts a field, "
                                 "`{total:.2f}` formats a number."),
          config::int_setting("rate_per_minute", &Settings::rate_per_minute, 60, 0, 1'000'000,
                              "Most mails a minute (the server's or provider's limit); "
                              "0: no limit."),
          config::duration_setting("timeout", &Settings::timeout, "30s", 1000, 600'000,
                                   "Time allowed for one mail; after it, it is retried."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> EmailSink::open(const pipeline::SinkContext& context,
                                                        const Settings& settings) {
  if (settings.to.empty()) return make_error(Errc::kInvalidInput, "to: no recipients");
  if (!url_ok(settings.url)) return make_error(Errc::kInvalidInput, "url: not smtp:// or smtps://");
  auto sink = std::make_unique<EmailSink>(
      settings, context.name,
      (std::filesystem::path(context.data_dir) / "email" / context.name).string());
  if (!sink->curl_->handle) return make_error(Errc::kInternal, "cannot start libcurl");
  return std::unique_ptr<pipeline::Sink>(std::move(sink));
}

EmailSink::EmailSink(Settings settings, std::string name, std::string journal_dir)
    : settings_(std::move(settings)),
      name_(std::move(name)),
      journal_dir_(std::move(journal_dir)),
      curl_(std::make_unique<Curl>()),
      tokens_(static_cast<double>(settings_.rate_per_minute)),
      refilled_(std::chrono::steady_clock::now()) {}

EmailSink::~EmailSink() = default;

Result<IdJournal*> EmailSink::journal(const std::string& consumer) {
  if (auto it = journals_.find(consumer); it != journals_.end()) return &it->second;
  auto opened = IdJournal::open(journal_dir_ + "/" + file_name(consumer) + ".sent");
  if (!opened) return opened.error();
  return &journals_.emplace(consumer, std::move(opened.value())).first->second;
}

std::optional<std::chrono::milliseconds> EmailSink::take_token() {
  if (settings_.rate_per_minute == 0) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  const double per_second = static_cast<double>(settings_.rate_per_minute) / 60.0;
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ =
      std::min(static_cast<double>(settings_.rate_per_minute), tokens_ + elapsed * per_second);
  refilled_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return std::nullopt;
  }
  return std::chrono::milliseconds(
      static_cast<std::int64_t>((1.0 - tokens_) / per_second * 1000.0) + 1);
}

std::optional<pipeline::WriteOutcome> EmailSink::send(const std::string& message,
                                                      const std::vector<std::string>& recipients) {
  CURL* curl = curl_->handle;
  curl_easy_reset(curl);
  Upload upload{message};
  curl_slist* rcpt = nullptr;
  for (const auto& address : recipients)
    rcpt = curl_slist_append(rcpt, ("<" + address + ">").c_str());
  const std::string from = "<" + mail_address(settings_.from).value_or("") + ">";
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, settings_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  // One connection per mail: on a reused connection that turns out closed, libcurl would run
  // the transaction again by itself, and a mail the server had taken would go twice.
  curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  if (settings_.starttls)
    curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!settings_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings_.ca_file.c_str());
  if (!settings_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, settings_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, settings_.password.c_str());
  }
  const CURLcode result = curl_easy_perform(curl);
  curl_slist_free_all(rcpt);
  if (result == CURLE_OK) return std::nullopt;
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  const std::string reason =
      fmt::format("SMTP {}{}{}", error[0] ? error : curl_easy_strerror(result),
                  code ? ", server answered " : "", code ? std::to_string(code) : "");
  // 5xx is the server's final word on this mail (a refused recipient or content); a refused
  // login is the configuration's fault and waits for a fix like any outage.
  if (code >= 500 && code < 600 && result != CURLE_LOGIN_DENIED) {
    return pipeline::WriteOutcome::rejected(reason);
  }
  return pipeline::WriteOutcome::retry(reason);
}

pipeline::WriteOutcome EmailSink::write(const pipeline::SinkBatch& batch) {
  auto sent = journal(batch.consumer);
  if (!sent) return pipeline::WriteOutcome::retry(sent.error().message);
  for (const auto& record : batch.records) {
    const std::string id = std::string(record.stream) + "/" + std::string(record.event.id);
    if (sent.value()->contains(id)) continue;
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 256;
    const json::value payload = json::parse(record.event.payload, ec, {}, options);
    std::vector<std::string> recipients;
    for (const auto& to : settings_.to) {
      const std::string rendered = pipeline::render_message(to, payload);
      auto address = mail_address(rendered);
      if (!address) {
        return pipeline::WriteOutcome::rejected(fmt::format(
            "recipient \"{}\" ({}) is not an e-mail address", rendered.substr(0, 100), to));
      }
      recipients.push_back(std::move(*address));
    }
    if (recipients.size() > kMaxRecipients) {
      return pipeline::WriteOutcome::rejected(
          fmt::format("more than {} recipients", kMaxRecipients));
    }
    if (auto wait = take_token()) {
      return pipeline::WriteOutcome::retry(
          fmt::format("rate_per_minute ({}) reached", settings_.rate_per_minute), *wait);
    }
    MailParts parts{.from = settings_.from,
                    .recipients = recipients,
                    .subject = pipeline::render_message(settings_.subject, payload),
                    .body = pipeline::render_message(settings_.body, payload),
                    .message_id = fmt::format(
                        "{:016x}.{}@sluice.invalid", XXH3_64bits(id.data(), id.size()),
                        XXH3_64bits(batch.consumer.data(), batch.consumer.size()) & 0xffffff),
                    .date_ms = now_ms()};
    if (sent.value()->in_doubt(id)) {
      sluice::logger("pipeline")
          ->warn(
              "email sink={} id={} was being sent when the process stopped: sending it "
              "again (the server may have it already; the same Message-ID)",
              name_, id);
    }
    if (auto noted = sent.value()->sending(id); !noted) {
      return pipeline::WriteOutcome::retry(noted.error().message);
    }
    if (auto failed = send(compose_mail(parts), recipients)) return *failed;
    if (auto kept = sent.value()->add(id); !kept) {
      return pipeline::WriteOutcome::retry(kept.error().message);
    }
  }
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
