#include "store/rollup.h"

#include <cmath>

#include "core/json_text.h"

namespace sluice::store {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::int64_t minute_of(std::int64_t ms) {
  return ms >= 0 ? ms / kMinuteMs : -((-ms + kMinuteMs - 1) / kMinuteMs);
}

}  // namespace

int lag_bucket(std::int64_t lag_ms) {
  if (lag_ms <= 0) return 0;
  return 1 + static_cast<int>(std::floor(4 * std::log2(static_cast<double>(lag_ms))));
}

double lag_bucket_ms(int bucket) {
  if (bucket <= 0) return 0;
  return std::exp2((bucket - 0.5) / 4);
}

std::string rollup_text(std::optional<std::string_view> string_value) {
  if (!string_value) return "null";
  std::string out;
  append_json_string(out, *string_value);
  return out;
}

RollupFields::RollupFields(const std::vector<std::string>& fields) {
  for (const auto& field : fields) {
    std::string pointer = "/" + field;
    for (auto& c : pointer) {
      if (c == '.') c = '/';
    }
    pointers_.push_back(std::move(pointer));
  }
}

void RollupFields::read(std::string_view payload, std::array<std::string, 3>& out) {
  for (auto& text : out)
    text = "null";
  if (pointers_.empty()) return;
  buffer_.reserve(payload.size() + simdjson::SIMDJSON_PADDING);
  buffer_.assign(payload);
  simdjson::ondemand::document doc;
  if (parser_.iterate(buffer_.data(), buffer_.size(), buffer_.capacity()).get(doc)) return;
  for (std::size_t i = 0; i < pointers_.size() && i < out.size(); ++i) {
    simdjson::ondemand::value value;
    if (doc.at_pointer(pointers_[i]).get(value)) continue;
    simdjson::ondemand::json_type type;
    if (value.type().get(type)) continue;
    if (type == simdjson::ondemand::json_type::string) {
      std::string_view text;
      if (!value.get_string().get(text)) out[i] = rollup_text(text);
    } else if (type == simdjson::ondemand::json_type::object ||
               type == simdjson::ondemand::json_type::array) {
      std::string_view raw;
      if (!simdjson::to_json_string(value).get(raw)) out[i] = std::string(trim(raw));
    } else {
      out[i] = std::string(trim(value.raw_json_token()));
    }
  }
}

void RollupBatch::add(std::int64_t ts_ms, std::int64_t received_at_ms,
                      std::optional<std::string_view> type,
                      const std::array<std::string, 3>& dims) {
  const std::int64_t minute = minute_of(ts_ms);
  ++counts[{minute, rollup_text(type), dims[0], dims[1], dims[2]}];
  ++lag[{minute, lag_bucket(received_at_ms - ts_ms)}];
}

RollupBatch RollupBatch::hourly() const {
  auto hour = [](std::int64_t minute) {
    return minute >= 0 ? minute / 60 * 60 : -((-minute + 59) / 60 * 60);
  };
  RollupBatch out;
  for (const auto& [key, n] : counts) {
    auto hour_key = key;
    std::get<0>(hour_key) = hour(std::get<0>(key));
    out.counts[hour_key] += n;
  }
  for (const auto& [key, n] : lag)
    out.lag[{hour(key.first), key.second}] += n;
  return out;
}

RollupFields& StreamRollups::fields(const std::string& stream) {
  auto it = fields_.find(stream);
  if (it == fields_.end()) {
    const auto configured = stats_fields_.find(stream);
    it = fields_
             .emplace(stream,
                      RollupFields(configured == stats_fields_.end() ? std::vector<std::string>{}
                                                                     : configured->second))
             .first;
  }
  return it->second;
}

std::string StreamRollups::fields_json(const std::string& stream) const {
  std::string out = "[";
  if (const auto it = stats_fields_.find(stream); it != stats_fields_.end()) {
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, it->second[i]);
    }
  }
  return out + "]";
}

}  // namespace sluice::store
