#include "consume/outbox.h"

#include <boost/json.hpp>
#include <future>
#include <map>

namespace sluice::consume {

namespace json = boost::json;

void Outbox::add(const StreamConfig& stream, const EventView& event) {
  events_.push_back({stream.name, std::max<std::uint32_t>(stream.partitions, 1),
                     std::string(event.id), event.ts_ms, event.received_at_ms,
                     std::string(event.type.value_or("")), std::string(event.payload)});
}

Result<void> Outbox::send(log::Log& log) {
  std::map<std::string_view, std::vector<log::RecordBatch>> by_stream;
  for (const auto& e : events_) {
    auto& batches = by_stream[e.stream];
    if (batches.empty()) batches.resize(e.partitions);
    batches[log::partition_for(e.id, static_cast<std::uint32_t>(batches.size()))].add(
        EventView{.id = e.id,
                  .ts_ms = e.ts_ms,
                  .received_at_ms = e.received_at_ms,
                  .type = e.type.empty() ? std::nullopt : std::optional<std::string_view>(e.type),
                  .payload = e.payload});
  }
  for (auto& [stream, batches] : by_stream) {
    std::promise<Result<void>> done;
    auto future = done.get_future();
    log::append_partitions(log, std::string(stream), std::move(batches),
                           [&done](Result<void> result) { done.set_value(std::move(result)); });
    // A stream appended before a failure is appended again next time: same ids, kept once.
    if (auto sent = future.get(); !sent) return sent.error();
  }
  events_.clear();
  return boost::outcome_v2::success();
}

std::string Outbox::to_json() const {
  json::array list;
  for (const auto& e : events_) {
    list.push_back(json::array{json::value(e.stream), e.partitions, json::value(e.id), e.ts_ms,
                               e.received_at_ms, json::value(e.type), json::value(e.payload)});
  }
  return json::serialize(list);
}

Result<Outbox> Outbox::from_json(std::string_view text) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  const auto bad = [] { return make_error(Errc::kCorrupt, "windows.db: unreadable outbox"); };
  if (ec || !parsed.is_array()) return bad();
  Outbox outbox;
  for (const auto& item : parsed.get_array()) {
    const auto* e = item.if_array();
    if (!e || e->size() != 7 || !(*e)[0].is_string() || !(*e)[1].is_int64() ||
        !(*e)[2].is_string() || !(*e)[3].is_int64() || !(*e)[4].is_int64() ||
        !(*e)[5].is_string() || !(*e)[6].is_string()) {
      return bad();
    }
    outbox.events_.push_back(
        {std::string((*e)[0].get_string()),
         static_cast<std::uint32_t>(std::max<std::int64_t>((*e)[1].get_int64(), 1)),
         std::string((*e)[2].get_string()), (*e)[3].get_int64(), (*e)[4].get_int64(),
         std::string((*e)[5].get_string()), std::string((*e)[6].get_string())});
  }
  return outbox;
}

}  // namespace sluice::consume
