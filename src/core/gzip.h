#pragma once
// Compressing text into one gzip member (RFC 1952). Concatenated members are one valid gzip
// stream, so appending to a .gz file is writing another member.

#include <string>
#include <string_view>

namespace sluice {

// `level`: zlib's 0 (none) to 9 (smallest); -1 is zlib's default (6).
std::string gzip(std::string_view text, int level = -1);

}  // namespace sluice
