#include "core/bytes.h"
#include "core/crc32c.h"
#include "log/log.h"
#include "log/log_format.h"

namespace sluice::log {

RecordBatch::RecordBatch() {
  bytes_.resize(kFrameHeaderSize + kBodyCountSize);
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
  store_le<std::uint32_t>(bytes_.data() + kFrameHeaderSize, count_);
  std::string_view body(bytes_.data() + kFrameHeaderSize, bytes_.size() - kFrameHeaderSize);
  store_le<std::uint32_t>(bytes_.data(), static_cast<std::uint32_t>(body.size()));
  store_le<std::uint32_t>(bytes_.data() + 4, crc32c(body));
}

}  // namespace sluice::log
