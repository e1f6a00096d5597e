#include "query/tail_cursor.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <charconv>

#include "pipeline/event_json.h"

namespace sluice::query {

Result<TailCursor> TailCursor::open(log::Log& log, const std::vector<std::string>& known_streams,
                                    const Params& params) {
  TailCursor cursor(log);
  for (const auto& [name, value] : params) {
    if (name == "stream") {
      if (std::find(known_streams.begin(), known_streams.end(), value) == known_streams.end()) {
        return make_error(Errc::kNotFound, fmt::format("unknown stream \"{}\"", value));
      }
      if (std::find(cursor.streams_.begin(), cursor.streams_.end(), value) ==
          cursor.streams_.end()) {
        cursor.streams_.push_back(value);
      }
    } else if (name == "filter") {
      auto parsed = expr::Expression::parse(value);
      if (!parsed) {
        return make_error(Errc::kInvalidInput,
                          fmt::format("parameter \"filter\": {}", parsed.error().message));
      }
      cursor.filter_.emplace(std::move(parsed.value()));
    } else if (name == "heartbeat") {
      int seconds = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (ec != std::errc() || end != value.data() + value.size() || seconds < 1 || seconds > 300) {
        return make_error(Errc::kInvalidInput,
                          "parameter \"heartbeat\" must be a number of seconds from 1 to 300");
      }
      cursor.heartbeat_ = std::chrono::seconds(seconds);
    } else {
      return make_error(Errc::kInvalidInput,
                        fmt::format("unknown parameter \"{}\"; valid parameters: stream, filter, "
                                    "heartbeat, token",
                                    name));
    }
  }
  if (cursor.streams_.empty()) {
    return make_error(Errc::kInvalidInput,
                      "parameter \"stream\" is required (one or more: stream=a&stream=b)");
  }
  // From now on: the end of each partition as the tail begins.
  for (const auto& stream : cursor.streams_) {
    for (std::uint32_t p = 0; p < log.partitions(stream); ++p) {
      const log::Partition partition(stream, p);
      cursor.positions_[partition] = log.end_offset(partition);
    }
  }
  return cursor;
}

Result<std::string> TailCursor::next(std::size_t max_events, std::size_t& read) {
  std::string out;
  std::string json;
  read = 0;
  const std::size_t per_partition = std::max<std::size_t>(max_events / positions_.size(), 1);
  for (auto& [partition, position] : positions_) {
    auto batch = log_->read(partition, position, per_partition);
    if (!batch) return batch.error();
    for (const auto& record : batch.value().records) {
      ++read;
      auto event = decode_event(record.bytes);
      if (!event) continue;  // cannot happen: the log checksums its records
      if (filter_) {
        boost::system::error_code ec;
        const auto payload = boost::json::parse(event->payload, ec);
        if (ec || !filter_->matches(payload)) continue;
      }
      out += fmt::format("id: {}/{}/{}\nevent: event\ndata: ", partition.stream, partition.index,
                         record.offset);
      json.clear();
      pipeline::append_event_json(json, {.stream = partition.stream,
                                         .partition = partition.index,
                                         .offset = record.offset,
                                         .event = *event});
      // A payload is stored as sent and may hold line breaks (between JSON tokens only: inside
      // strings they are escaped). Each line becomes a data line; the client joins them again.
      for (char c : json) {
        if (c == '\n') {
          out += "\ndata: ";
        } else if (c != '\r') {
          out += c;
        }
      }
      out += "\n\n";
    }
    position = batch.value().next_offset;
  }
  return out;
}

std::uint64_t TailCursor::lag() const {
  return log::lag(*log_, positions_);
}

}  // namespace sluice::query
