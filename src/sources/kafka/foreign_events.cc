#include "sources/kafka/foreign_events.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/time.h"
#include "sources/http/event_check.h"
#include "sources/http/stream_policy.h"

namespace sluice::sources {
namespace {

namespace json = boost::json;

struct Reader {
  std::shared_ptr<const StreamConfig> stream;
  std::shared_ptr<const collector::StreamPolicy> policy;  // holds a reference to *stream

  Result<void> operator()(const log::ForeignRecord& record, std::string& out) const {
    // Each reading thread has its own parser and buffer.
    thread_local collector::od::parser parser;
    thread_local std::string text;
    text.assign(record.value);
    if (policy->rewrites(false)) {
      json::parse_options options;
      options.max_depth = collector::kMaxJsonDepth + 2;
      std::error_code error;
      json::value parsed = json::parse(record.value, error, {}, options);
      if (error || !parsed.is_object()) {
        return make_error(Errc::kInvalidInput,
                          error ? "the value is not valid JSON: " + error.message()
                                : std::string("the value is not a JSON object"));
      }
      if (auto problem = policy->apply(parsed.as_object(), {})) {
        return make_error(Errc::kInvalidInput, *problem);
      }
      text = json::serialize(parsed);
    }
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    auto check = collector::check_event(parser, text, text.capacity(), text,
                                        collector::EventFields::of(*stream));
    if (check.outcome != collector::EventCheck::Outcome::kOk) {
      return make_error(Errc::kInvalidInput, check.error.empty()
                                                 ? std::string("the value is not a JSON object")
                                                 : check.error);
    }
    EventView& event = check.event;
    event.received_at_ms = record.timestamp_ms.value_or(now_ms());
    if (!check.has_time) event.ts_ms = event.received_at_ms;
    if (event.ts_ms - event.received_at_ms > stream->max_future.count()) {
      event.ts_ms = event.received_at_ms;  // the payload keeps the time as sent
    }
    std::string place;
    if (event.id.empty()) {
      place = fmt::format("{}-{}-{}", record.topic, record.partition, record.offset);
      event.id = place;
    }
    encode_event(event, out);
    return boost::outcome_v2::success();
  }
};

}  // namespace

Result<log::ForeignReader> foreign_reader(const StreamConfig& stream) {
  auto copy = std::make_shared<const StreamConfig>(stream);
  auto policy = collector::StreamPolicy::build(*copy);
  if (!policy) return policy.error();
  return log::ForeignReader(Reader{.stream = std::move(copy), .policy = std::move(policy.value())});
}

}  // namespace sluice::sources
