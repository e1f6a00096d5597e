#include "core/event.h"

#include "core/bytes.h"

namespace sluice {
namespace {

constexpr std::uint8_t kHasKey = 1;
constexpr std::uint8_t kHasType = 2;

void put_short_string(std::string& out, std::string_view s) {
  put_le<std::uint16_t>(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <class T>
  bool read(T& out) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    out = load_le<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }

  template <class LengthType>
  bool read_string(std::string_view& out) {
    LengthType length;
    if (!read(length) || data_.size() - pos_ < length) return false;
    out = data_.substr(pos_, length);
    pos_ += length;
    return true;
  }

  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace

void encode_event(const EventView& event, std::string& out) {
  encode_event(event, {}, out);
}

void encode_event(const EventView& event, std::string_view payload_tail, std::string& out) {
  std::uint8_t flags = (event.key ? kHasKey : 0) | (event.type ? kHasType : 0);
  out.push_back(static_cast<char>(kRecordVersion));
  out.push_back(static_cast<char>(flags));
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(event.ts_ms));
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(event.received_at_ms));
  put_short_string(out, event.id);
  if (event.key) put_short_string(out, *event.key);
  if (event.type) put_short_string(out, *event.type);
  put_le<std::uint32_t>(out,
                        static_cast<std::uint32_t>(event.payload.size() + payload_tail.size()));
  out.append(event.payload);
  out.append(payload_tail);
}

std::optional<EventView> decode_event(std::string_view record) {
  Reader r(record);
  std::uint8_t version, flags;
  std::uint64_t ts, received_at;
  EventView event;
  if (!r.read(version) || version != kRecordVersion || !r.read(flags) || !r.read(ts) ||
      !r.read(received_at) || !r.read_string<std::uint16_t>(event.id)) {
    return std::nullopt;
  }
  event.ts_ms = static_cast<std::int64_t>(ts);
  event.received_at_ms = static_cast<std::int64_t>(received_at);
  if (flags & kHasKey) {
    std::string_view key;
    if (!r.read_string<std::uint16_t>(key)) return std::nullopt;
    event.key = key;
  }
  if (flags & kHasType) {
    std::string_view type;
    if (!r.read_string<std::uint16_t>(type)) return std::nullopt;
    event.type = type;
  }
  if (!r.read_string<std::uint32_t>(event.payload) || !r.at_end()) return std::nullopt;
  return event;
}

}  // namespace sluice
