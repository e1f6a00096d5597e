#include "core/bytes.h"
#include "core/crc32c.h"
#include "log/log.h"
#include "log/log_format.h"

namespace sluice::log {

std::optional<FrameHeader> parse_frame_header(std::string_view bytes) {
  if (bytes.size() < kFrameHeaderSize || load_le<std::uint32_t>(bytes.data()) != kFrameMagic) {
    return std::nullopt;
  }
  const std::string_view covered =
      bytes.substr(kHeaderCrcStart, kFrameHeaderSize - kHeaderCrcStart);
  if (crc32c(covered) != load_le<std::uint32_t>(bytes.data() + 4)) return std::nullopt;
  FrameHeader header{.base_offset = load_le<std::uint64_t>(bytes.data() + 8),
                     .count = load_le<std::uint32_t>(bytes.data() + 16),
                     .body_length = load_le<std::uint32_t>(bytes.data() + 20),
                     .body_crc = load_le<std::uint32_t>(bytes.data() + 24)};
  if (header.body_length > kMaxFrameBody) return std::nullopt;
  return header;
}

void stamp_frame(char* frame, std::uint64_t base_offset) {
  store_le<std::uint64_t>(frame + 8, base_offset);
  const std::string_view covered(frame + kHeaderCrcStart, kFrameHeaderSize - kHeaderCrcStart);
  store_le<std::uint32_t>(frame + 4, crc32c(covered));
}

RecordBatch::RecordBatch() {
  bytes_.resize(kFrameHeaderSize);
}

void RecordBatch::add(const EventView& event) {
  std::size_t length_at = bytes_.size();
  bytes_.resize(length_at + kRecordLengthSize);
  encode_event(event, bytes_);
  auto length = static_cast<std::uint32_t>(bytes_.size() - length_at - kRecordLengthSize);
  store_le<std::uint32_t>(bytes_.data() + length_at, length);
  ++count_;
}

void RecordBatch::seal() {
  const std::string_view body(bytes_.data() + kFrameHeaderSize, bytes_.size() - kFrameHeaderSize);
  store_le<std::uint32_t>(bytes_.data(), kFrameMagic);
  store_le<std::uint32_t>(bytes_.data() + 16, count_);
  store_le<std::uint32_t>(bytes_.data() + 20, static_cast<std::uint32_t>(body.size()));
  store_le<std::uint32_t>(bytes_.data() + 24, crc32c(body));
  stamp_frame(bytes_.data(), 0);
}

void RecordBatch::stamp(Offset base_offset) {
  stamp_frame(bytes_.data(), base_offset);
}

}  // namespace sluice::log
