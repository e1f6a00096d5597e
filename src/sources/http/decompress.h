#pragma once
// Request bodies sent with Content-Encoding: gzip or deflate (zlib). The decompressed size is
// capped while inflating, so a small "bomb" that would expand to gigabytes is cut off as soon
// as it passes the limit, never held in memory.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::collector {

// `encoding` is the Content-Encoding header value: "", "identity", "gzip", "x-gzip" or
// "deflate" (zlib-wrapped, or raw deflate as some clients send). Errors: kUnsupported for other
// encodings, kTooLarge past `max_bytes` decompressed, kInvalidInput for a damaged stream.
Result<std::string> decompress_body(std::string_view encoding, std::string_view body,
                                    std::uint64_t max_bytes);

}  // namespace sluice::collector
