#pragma once
// Template definitions for log_format.h.

#include "core/bytes.h"
#include "core/crc32c.h"

namespace sluice::log {

template <class Each>
bool walk_frame_body(const FrameHeader& header, std::string_view body, Each&& each) {
  if (body.size() != header.body_length || crc32c(body) != header.body_crc) return false;
  std::size_t pos = 0;
  for (std::uint32_t i = 0; i < header.count; ++i) {
    if (body.size() - pos < kRecordLengthSize) return false;
    auto length = load_le<std::uint32_t>(body.data() + pos);
    pos += kRecordLengthSize;
    if (body.size() - pos < length) return false;
    each(body.substr(pos, length));
    pos += length;
  }
  return pos == body.size();
}

}  // namespace sluice::log
