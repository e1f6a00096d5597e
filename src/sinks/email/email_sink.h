#pragma once
// email: one mail per event over SMTP (libcurl), with the subject, body and recipients made from
// the event's fields by templates (the alert messages' `{field}` syntax).
//
//   sinks:
//     confirm:
//       email:
//         url: smtp://mail.example.org:587     # smtps:// for TLS from the start
//         starttls: true
//         username: forms@example.org
//         password: ${SMTP_PASSWORD}
//         from: "Student office <forms@example.org>"
//         to: ["{email}"]
//         subject: "We got your form, {name}"
//         body: "Hello {name},\n\nthanks for your answers."
//         rate_per_minute: 60
//
// Idempotent by event id: the ids of accepted mails are kept (core/id_journal.h), so a batch
// delivered again sends nothing twice; only a mail in flight when the process died is sent
// again, with the same Message-ID (SMTP cannot tell whether the server took it). An event whose
// recipient is not an address, or that the server refuses for good (5xx), goes to the dead letters;
// anything else is retried.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/table.h"
#include "core/id_journal.h"
#include "pipeline/sink.h"

namespace sluice::sinks {

class EmailSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string url;
    bool starttls = false;
    std::string username;
    std::string password;
    std::string ca_file;
    std::string from;
    std::vector<std::string> to;
    std::string subject;
    std::string body;
    std::int64_t rate_per_minute = 60;
    std::chrono::milliseconds timeout{30'000};
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  EmailSink(Settings settings, std::string name, std::string journal_dir);
  ~EmailSink() override;
  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  struct Curl;
  // Sends one mail; nullopt when the server accepted it.
  std::optional<pipeline::WriteOutcome> send(const std::string& message,
                                             const std::vector<std::string>& recipients);
  // Takes a token of the per-minute budget; how long until there is one otherwise.
  std::optional<std::chrono::milliseconds> take_token();
  Result<IdJournal*> journal(const std::string& consumer);

  Settings settings_;
  std::string name_;
  std::string journal_dir_;
  std::map<std::string, IdJournal> journals_;  // by consumer (pipeline)
  std::unique_ptr<Curl> curl_;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_;
};

}  // namespace sluice::sinks
