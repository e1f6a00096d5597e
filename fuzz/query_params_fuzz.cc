// Fuzzes the read API's query parameters and cursors: GET /v1/events, /v1/dead-letters (a
// stream view with shortcuts), /v1/events/{id} and /v1/stats, run for real against a SQLite
// store holding a few events. The first byte picks the endpoint; the rest is a query string
// ("a=1&b=2", split as the server splits it, without percent-decoding, so any byte reaches
// the parsers).
//
// Besides sanitizer findings it checks that every answer is a JSON object (Boost.JSON), that
// an error is one a client may get (invalid input, not found, or a query stopped by the
// timeout) and never a store failure, and that a next_cursor handed out is taken back: the
// next page answers too.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/event.h"
#include "query/events_query.h"
#include "query/stats_query.h"
#include "query/store_reader.h"
#include "store/sqlite_store.h"

namespace {

using namespace sluice;

const std::map<std::string, std::vector<std::string>>& stats_fields() {
  static const std::map<std::string, std::vector<std::string>> fields = {
      {"events", {"city", "device.kind"}}, {"dead_letters", {}}};
  return fields;
}

// A store with events of two streams, made once per process.
query::StoreReader& reader() {
  static std::unique_ptr<query::StoreReader> instance = [] {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sluice-query-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    static const std::filesystem::path made = dir;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(made, ignored);
    });
    const std::string path = (dir / "sluice.db").string();
    {
      sqlite::SqliteStore sink(path, stats_fields());
      for (const char* stream : {"events", "dead_letters"}) {
        std::vector<std::string> bytes;
        bytes.reserve(40);
        log::ReadBatch batch;
        for (int i = 0; i < 40; ++i) {
          const std::string id = std::string(stream) + "-" + std::to_string(i);
          const std::string payload = R"({"city":")" + std::string(i % 3 ? "Paris" : "Oslo") +
                                      R"(","n":)" + std::to_string(i) + R"(,"device":{"kind":"k)" +
                                      std::to_string(i % 4) +
                                      R"("},"stream":"events","tags":["a","b"]})";
          bytes.emplace_back();
          encode_event(
              EventView{.id = id,
                        .ts_ms = 1'700'000'000'000 + i * 61'000,
                        .received_at_ms = 1'700'000'000'500 + i * 61'000,
                        .key = i % 2 ? std::optional<std::string_view>("key-1") : std::nullopt,
                        .type = i % 5 ? "view" : "click",
                        .payload = payload},
              bytes.back());
          batch.records.push_back({static_cast<log::Offset>(i), bytes.back()});
        }
        batch.next_offset = 40;
        if (!sink.write("store", stream, batch)) std::abort();
      }
    }
    return query::open_sqlite_reader(path, 1, std::chrono::milliseconds(2000));
  }();
  return *instance;
}

query::Params split(std::string_view text) {
  query::Params params;
  while (!text.empty() && params.size() < 64) {
    const auto amp = text.find('&');
    const std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    const auto eq = part.find('=');
    params.emplace_back(std::string(part.substr(0, eq)), eq == std::string_view::npos
                                                             ? std::string()
                                                             : std::string(part.substr(eq + 1)));
  }
  return params;
}

// The answer is a JSON object, or an error a client may be given.
void check(const Result<std::string>& answer, const char* what) {
  if (!answer) {
    const auto code = answer.error().code;
    if (code != Errc::kInvalidInput && code != Errc::kNotFound &&
        !(code == Errc::kUnavailable &&
          answer.error().message.find("store.query_timeout") != std::string::npos)) {
      std::fprintf(stderr, "%s: unexpected error %d: %s\n", what, static_cast<int>(code),
                   answer.error().message.c_str());
      std::abort();
    }
    return;
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(answer.value(), ec);
  if (ec || !parsed.is_object()) {
    std::fprintf(stderr, "%s: not a JSON object: %s\n", what, answer.value().c_str());
    std::abort();
  }
}

// The next page of an answer with a next_cursor: the cursor is taken back.
void follow_cursor(const Result<std::string>& answer, query::Params params,
                   const query::StreamView* view) {
  if (!answer) return;
  auto parsed = boost::json::parse(answer.value());
  const auto* cursor = parsed.as_object().if_contains("next_cursor");
  if (cursor == nullptr || !cursor->is_string()) return;
  std::erase_if(params, [](const auto& p) { return p.first == "cursor"; });
  params.emplace_back("cursor", std::string(cursor->get_string()));
  auto next =
      view ? query::query_view(reader(), *view, params) : query::query_events(reader(), params);
  if (!next) {
    std::fprintf(stderr, "a next_cursor was refused: %s\n", next.error().message.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const query::Params params = split(text);
  static const query::StreamView dead_letters{.streams = {"dead_letters"},
                                              .shortcuts = {{"source", "stream"}}};
  switch (data[0] % 4) {
    case 0: {
      auto answer = query::query_events(reader(), params);
      check(answer, "events");
      follow_cursor(answer, params, nullptr);
      break;
    }
    case 1: {
      auto answer = query::query_view(reader(), dead_letters, params);
      check(answer, "dead letters");
      follow_cursor(answer, params, &dead_letters);
      break;
    }
    case 2: {
      // The id is the first parameter's name, the rest are parameters.
      const std::string id = params.empty() ? std::string() : params.front().first;
      const query::Params rest(params.empty() ? params.begin() : params.begin() + 1, params.end());
      check(query::query_event(reader(), id, rest, {"events", "dead_letters"}), "event");
      break;
    }
    default:
      check(query::query_stats(reader(), stats_fields(), params), "stats");
      break;
  }
  return 0;
}
