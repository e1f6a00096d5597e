#pragma once
// Constants of the embedded log's on-disk format. The format is described in prose in
// docs/specs/log_format.md; change both together.

#include <cstddef>
#include <cstdint>

namespace sluice::log {

// Frame: u32 body length | u32 CRC-32C of the body | body
// Body:  u32 record count | (u32 record length | record bytes) * count
inline constexpr std::size_t kFrameHeaderSize = 8;
inline constexpr std::size_t kBodyCountSize = 4;
inline constexpr std::size_t kRecordLengthSize = 4;
inline constexpr std::uint32_t kMaxFrameBody = 1u << 30;

}  // namespace sluice::log
