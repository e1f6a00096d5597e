#include "core/crc32c.h"

#include <boost/crc.hpp>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice {
namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view data,
                                                             std::uint32_t seed) {
  std::uint64_t crc = ~seed;
  const char* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
    p += 8;
    n -= 8;
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  while (n > 0) {
    crc32 = _mm_crc32_u8(crc32, static_cast<unsigned char>(*p));
    ++p;
    --n;
  }
  return ~crc32;
}

const bool kHasSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t crc32c_portable(std::string_view data, std::uint32_t seed) {
  // Reflected CRC-32C: polynomial 0x1EDC6F41, init and final xor 0xFFFFFFFF. Seeding with a
  // previous result continues the checksum, as with the hardware path.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc(~seed);
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

std::uint32_t crc32c(std::string_view data, std::uint32_t seed) {
#if defined(__x86_64__)
  if (kHasSse42) return crc32c_sse42(data, seed);
#endif
  return crc32c_portable(data, seed);
}

}  // namespace sluice
