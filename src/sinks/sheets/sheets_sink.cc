#include "sinks/sheets/sheets_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <thread>

#include "core/json_write.h"
#include "pipeline/field_path.h"

namespace sluice::sinks {
namespace {

namespace json = boost::json;

constexpr const char* kScope = "https://www.googleapis.com/auth/spreadsheets";
constexpr const char* kDefaultTokenUrl = "https://oauth2.googleapis.com/token";

bool http_url(const std::string& url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

// The starting column (1-based) of an A1 range such as "Sheet1!B2" or "B:D"; 1 when none.
std::size_t first_column(std::string_view range) {
  if (auto bang = range.rfind('!'); bang != std::string_view::npos) range.remove_prefix(bang + 1);
  std::size_t column = 0;
  for (char c : range) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') break;
    column = column * 26 + static_cast<std::size_t>(c - 'A' + 1);
  }
  return column == 0 ? 1 : column;
}

// A cell: text as it is, numbers and booleans as JSON values, objects and arrays as JSON text,
// missing or null as empty.
json::value cell(const json::value* value) {
  if (!value || value->is_null()) return "";
  if (value->is_string() || value->is_number() || value->is_bool()) return *value;
  return json::string(json_text(*value));
}

}  // namespace

std::string column_letters(std::size_t n) {
  std::string out;
  while (n > 0) {
    const std::size_t digit = (n - 1) % 26;
    out.insert(out.begin(), static_cast<char>('A' + digit));
    n = (n - 1) / 26;
  }
  return out;
}

const config::Table& SheetsSink::settings_table() {
  static const config::Table table{
      "sheets",
      "Appends one row per event to a Google Sheets range (values:append), the columns taken "
      "from the event's fields, plus a last column with the event's id. Authenticated with a "
      "service account's key; at most `requests_per_minute` requests; 429 waits as told. No "
      "row is written twice, even across a crash.",
      {
          config::string_setting("spreadsheet_id", &Settings::spreadsheet_id, "",
                                 "The spreadsheet's id (from its URL: /spreadsheets/d/<id>/). "
                                 "Required.",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text.empty()) return "a spreadsheet id is required";
                                   return std::nullopt;
                                 }),
          config::string_setting("range", &Settings::range, "Sheet1!A1",
                                 "Where rows go, in A1 notation: the sheet and the first "
                                 "column (rows are added below the table there)."),
          config::string_list_setting("columns", &Settings::columns, "[]",
                                      "The fields (dotted paths) of each row, in order; the "
                                      "event's id follows them. Required."),
          config::string_setting("credentials_file", &Settings::credentials_file, "",
                                 "The service account's JSON key file (client_email, "
                                 "private_key). Share the spreadsheet with its client_email. "
                                 "Required."),
          config::string_setting("token_url", &Settings::token_url, "",
                                 "The OAuth2 token endpoint; empty: the key file's token_uri, "
                                 "else https://oauth2.googleapis.com/token."),
          config::string_setting("api_base", &Settings::api_base, "https://sheets.googleapis.com",
                                 "The Sheets API's address (another one for a proxy or a "
                                 "local stand-in).",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (!http_url(v.text)) return "expected an http(s):// URL";
                                   return std::nullopt;
                                 }),
          config::string_setting("ca_file", &Settings::ca_file, "",
                                 "PEM certificates to trust; empty: the system's."),
          config::int_setting("requests_per_minute", &Settings::requests_per_minute, 60, 1, 100'000,
                              "Most API requests a minute, spaced evenly (Google's default "
                              "write quota is 60 a minute per user)."),
          config::bool_setting("order_by_time", &Settings::order_by_time, false,
                               "Order each batch's rows by event time (else log order)."),
          config::string_setting("value_input", &Settings::value_input, "RAW",
                                 "`RAW` (values as they are) or `USER_ENTERED` (as if typed: "
                                 "`=SUM(...)` becomes a formula).",
                                 [](const config::Scalar& v) -> std::optional<std::string> {
                                   if (v.text != "RAW" && v.text != "USER_ENTERED") {
                                     return "RAW or USER_ENTERED";
                                   }
                                   return std::nullopt;
                                 }),
          config::duration_setting("timeout", &Settings::timeout, "30s", 1000, 600'000,
                                   "Time allowed for one request."),
      }};
  return table;
}

Result<std::unique_ptr<pipeline::Sink>> SheetsSink::open(const pipeline::SinkContext&,
                                                         const Settings& settings) {
  if (settings.columns.empty()) return make_error(Errc::kInvalidInput, "columns: none given");
  if (settings.credentials_file.empty()) {
    return make_error(Errc::kInvalidInput, "credentials_file: required");
  }
  auto key = read_service_account_key(settings.credentials_file);
  if (!key) return key.error();
  return std::unique_ptr<pipeline::Sink>(
      std::make_unique<SheetsSink>(settings, std::move(key.value())));
}

SheetsSink::SheetsSink(Settings settings, const ServiceAccountKey& key)
    : settings_(std::move(settings)),
      token_(key, kScope,
             !settings_.token_url.empty() ? settings_.token_url
             : !key.token_uri.empty()     ? key.token_uri
                                          : kDefaultTokenUrl) {
  const auto bang = settings_.range.rfind('!');
  sheet_ = bang == std::string::npos ? "" : settings_.range.substr(0, bang);
  const std::string letters =
      column_letters(first_column(settings_.range) + settings_.columns.size());
  id_column_ = (sheet_.empty() ? "" : sheet_ + "!") + letters + ":" + letters;
}

void SheetsSink::pace() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_request_) std::this_thread::sleep_until(next_request_);
  next_request_ = std::max(now, next_request_) +
                  std::chrono::microseconds(60'000'000 / settings_.requests_per_minute);
}

std::optional<pipeline::WriteOutcome> SheetsSink::answer_outcome(const HttpAnswer& answer,
                                                                 const char* what) {
  if (answer.status >= 200 && answer.status < 300) return std::nullopt;
  if (answer.status == 0) {
    return pipeline::WriteOutcome::retry(fmt::format("Sheets {}: {}", what, answer.error));
  }
  const std::string reason =
      fmt::format("Sheets {} answered {}: {}", what, answer.status, answer.body.substr(0, 300));
  if (answer.status == 401) {
    token_.forget();
    return pipeline::WriteOutcome::retry(reason);
  }
  if (answer.status == 429 || answer.status == 408 || answer.status >= 500) {
    return pipeline::WriteOutcome::retry(reason, answer.retry_after);
  }
  // 400 (a range that does not exist), 403 (not shared with the account), 404: every batch
  // would be refused the same way.
  return pipeline::WriteOutcome::rejected_whole(reason);
}

std::optional<pipeline::WriteOutcome> SheetsSink::read_ids(const std::string& token) {
  pace();
  const auto answer = http_.request(
      "GET",
      fmt::format("{}/v4/spreadsheets/{}/values/{}?majorDimension=COLUMNS", settings_.api_base,
                  url_escape(settings_.spreadsheet_id), url_escape(id_column_)),
      {"Authorization: Bearer " + token}, "", settings_.timeout, settings_.ca_file);
  if (auto failed = answer_outcome(answer, "reading the id column")) return failed;
  boost::system::error_code ec;
  auto value = json::parse(answer.body, ec);
  present_.clear();
  const auto* object = ec ? nullptr : value.if_object();
  const auto* columns = object ? object->if_contains("values") : nullptr;
  if (columns && columns->is_array()) {
    for (const auto& column : columns->get_array()) {
      if (!column.is_array()) continue;
      for (const auto& id : column.get_array())
        if (id.is_string()) present_.emplace(id.get_string());
    }
  }
  verify_ = false;
  return std::nullopt;
}

pipeline::WriteOutcome SheetsSink::write(const pipeline::SinkBatch& batch) {
  if (batch.records.empty()) return pipeline::WriteOutcome::delivered();
  auto token = token_.get(http_, settings_.timeout, settings_.ca_file);
  if (!token) return pipeline::WriteOutcome::retry(token.error().message);
  if (verify_) {
    if (auto failed = read_ids(token.value())) return *failed;
  }
  std::vector<const pipeline::SinkRecord*> records;
  for (const auto& record : batch.records) {
    if (!present_.contains(std::string(record.event.id))) records.push_back(&record);
  }
  if (records.empty()) return pipeline::WriteOutcome::delivered();
  if (settings_.order_by_time) {
    std::stable_sort(records.begin(), records.end(),
                     [](const auto* a, const auto* b) { return a->event.ts_ms < b->event.ts_ms; });
  }
  json::array rows;
  rows.reserve(records.size());
  json::parse_options options;
  options.max_depth = 256;
  for (const auto* record : records) {
    boost::system::error_code ec;
    const json::value payload = json::parse(record->event.payload, ec, {}, options);
    json::array row;
    for (const auto& column : settings_.columns)
      row.push_back(cell(pipeline::find_field(payload, column)));
    row.emplace_back(json::string(record->event.id));
    rows.push_back(std::move(row));
  }
  const json::object body{
      {"range", settings_.range}, {"majorDimension", "ROWS"}, {"values", std::move(rows)}};
  pace();
  const auto answer =
      http_.request("POST",
                    fmt::format("{}/v4/spreadsheets/{}/values/{}:append?valueInputOption={}"
                                "&insertDataOption=INSERT_ROWS",
                                settings_.api_base, url_escape(settings_.spreadsheet_id),
                                url_escape(settings_.range), settings_.value_input),
                    {"Authorization: Bearer " + token.value(), "Content-Type: application/json"},
                    json::serialize(body), settings_.timeout, settings_.ca_file);
  if (auto failed = answer_outcome(answer, "append")) {
    // Refused before anything was written (401, 429, 4xx) or not known (no answer, 5xx): in
    // the second case the rows may be there, so the id column is read before trying again.
    if (answer.status == 0 || answer.status >= 500) verify_ = true;
    return *failed;
  }
  present_.clear();
  return pipeline::WriteOutcome::delivered();
}

}  // namespace sluice::sinks
