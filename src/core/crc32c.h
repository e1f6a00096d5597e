#pragma once
// CRC-32C (Castagnoli), the checksum of every log frame.
// Uses the SSE4.2 crc32 instruction when the CPU has it and Boost.CRC otherwise; both give
// identical results (checked by the unit tests).

#include <cstdint>
#include <string_view>

namespace sluice {

std::uint32_t crc32c(std::string_view data, std::uint32_t seed = 0);

// The portable implementation, exposed so tests can compare it with the fast path.
std::uint32_t crc32c_portable(std::string_view data, std::uint32_t seed = 0);

}  // namespace sluice
