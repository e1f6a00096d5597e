#pragma once
// Little-endian fixed-width integer encoding for on-disk formats.
// Formats are little-endian; the build refuses big-endian hosts rather than mis-reading data.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice {

static_assert(std::endian::native == std::endian::little,
              "on-disk formats assume a little-endian host");

template <class T>
inline void put_le(std::string& out, T value) {
  static_assert(std::is_unsigned_v<T>);
  char buf[sizeof(T)];
  std::memcpy(buf, &value, sizeof(T));
  out.append(buf, sizeof(T));
}

template <class T>
inline void store_le(char* dst, T value) {
  static_assert(std::is_unsigned_v<T>);
  std::memcpy(dst, &value, sizeof(T));
}

template <class T>
inline T load_le(const char* src) {
  static_assert(std::is_unsigned_v<T>);
  T value;
  std::memcpy(&value, src, sizeof(T));
  return value;
}

}  // namespace sluice
