#include "core/uuid.h"

#include <array>
#include <random>

namespace sluice {

UuidText uuid_v7_text(std::int64_t unix_ms) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<unsigned char, 16> b{};
  auto ms = static_cast<std::uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  std::uint64_t r1 = random();
  std::uint64_t r2 = random();
  for (int i = 6; i < 8; ++i)
    b[i] = static_cast<unsigned char>(r1 >> (8 * i));
  for (int i = 8; i < 16; ++i)
    b[i] = static_cast<unsigned char>(r2 >> (8 * (i - 8)));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0F));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3F));  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  // Filled in place: one id per ingested event, so this is on the hot path.
  UuidText text{};
  std::size_t at = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text[at++] = '-';
    text[at++] = kHex[b[i] >> 4];
    text[at++] = kHex[b[i] & 0x0F];
  }
  return text;
}

std::string uuid_v7(std::int64_t unix_ms) {
  const UuidText text = uuid_v7_text(unix_ms);
  return std::string(text.data(), text.size());
}

}  // namespace sluice
