#pragma once
// sheets: appends one row per event to a Google Sheets range (the API's values:append), its
// columns taken from the event's fields.
//
//   sinks:
//     responses:
//       sheets:
//         spreadsheet_id: 1AbC...xyz
//         range: Responses!A1
//         columns: [name, email, answers.course, ts]
//         credentials_file: /etc/sluice/sheets-key.json    # a service account's JSON key
//         requests_per_minute: 60
//
// Authenticated as a service account (OAuth2 JWT bearer grant, the token renewed before it
// expires). At most `requests_per_minute` requests, spaced evenly; 429 waits for Retry-After;
// the log holds what is not yet written, so nothing is dropped while the quota is spent.
//
// No row twice: each row ends with a column holding the event's id, and whenever an append's
// outcome is unknown (the process restarted, a request timed out or failed after sending) that
// column is read back first and the events already there are skipped.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/table.h"
#include "pipeline/sink.h"
#include "sinks/sheets/curl_http.h"
#include "sinks/sheets/service_account.h"

namespace sluice::sinks {

class SheetsSink : public pipeline::Sink {
 public:
  struct Settings {
    std::string spreadsheet_id;
    std::string range = "Sheet1!A1";
    std::vector<std::string> columns;
    std::string credentials_file;
    std::string token_url;
    std::string api_base = "https://sheets.googleapis.com";
    std::string ca_file;
    std::int64_t requests_per_minute = 60;
    bool order_by_time = false;
    std::string value_input = "RAW";
    std::chrono::milliseconds timeout{30'000};
  };
  static const config::Table& settings_table();
  static Result<std::unique_ptr<pipeline::Sink>> open(const pipeline::SinkContext& context,
                                                      const Settings& settings);

  SheetsSink(Settings settings, const ServiceAccountKey& key);
  pipeline::WriteOutcome write(const pipeline::SinkBatch& batch) override;

 private:
  // Waits for the next request's turn in the per-minute budget.
  void pace();
  // The ids in the sheet's id column; the outcome to return when it cannot be read.
  std::optional<pipeline::WriteOutcome> read_ids(const std::string& token);
  std::optional<pipeline::WriteOutcome> answer_outcome(const HttpAnswer& answer, const char* what);

  Settings settings_;
  std::string sheet_;      // the range's sheet name ("Responses"), "" for the first sheet
  std::string id_column_;  // "Responses!F:F"
  CurlHttp http_;
  AccessToken token_;
  bool verify_ = true;  // read the id column before the next append
  std::unordered_set<std::string> present_;
  std::chrono::steady_clock::time_point next_request_{};
};

// The column letters of the 1-based column `n` (1 A, 27 AA).
std::string column_letters(std::size_t n);

}  // namespace sluice::sinks
