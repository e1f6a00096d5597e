#pragma once
// Constants of the embedded log's on-disk format, version 2. The format is described in prose in
// docs/specs/log_format.md; change both together.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::log {

// Frame header, 28 bytes, little-endian:
//   u32 magic | u32 header CRC-32C (of the 20 bytes that follow) | u64 base offset |
//   u32 record count | u32 body length | u32 body CRC-32C
// Body: (u32 record length | record bytes) * count
inline constexpr std::uint32_t kFrameMagic = 0x31434C53;  // "SLC1"
inline constexpr std::size_t kFrameHeaderSize = 28;
inline constexpr std::size_t kHeaderCrcStart = 8;  // the header CRC covers bytes 8..27
inline constexpr std::size_t kRecordLengthSize = 4;
inline constexpr std::uint32_t kMaxFrameBody = 1u << 30;

struct FrameHeader {
  std::uint64_t base_offset;
  std::uint32_t count;
  std::uint32_t body_length;
  std::uint32_t body_crc;
};

// Reads and checks a header (magic, header CRC, body length limit); nullopt if it is not one.
std::optional<FrameHeader> parse_frame_header(std::string_view bytes);

// Checks the body's CRC and that it holds exactly `count` records; calls each(record) for each.
template <class Each>
bool walk_frame_body(const FrameHeader& header, std::string_view body, Each&& each);

// Writes the base offset and the header CRC into a sealed frame (the log writer does this once
// it knows where the frame goes).
void stamp_frame(char* frame, std::uint64_t base_offset);

}  // namespace sluice::log

#include "log/log_format_inl.h"
