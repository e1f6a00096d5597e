#include "sources/http/decompress.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

namespace sluice::collector {
namespace {

// windowBits: 15 + 32 detects a gzip or zlib header; -15 is raw deflate.
Result<std::string> inflate_with(int window_bits, std::string_view body, std::uint64_t max_bytes,
                                 std::string_view encoding) {
  z_stream stream{};
  if (inflateInit2(&stream, window_bits) != Z_OK) {
    return make_error(Errc::kInternal, "cannot start zlib");
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const std::size_t chunk = std::max<std::size_t>(body.size() * 4, std::size_t{64} * 1024);
    const std::size_t before = out.size();
    out.resize(before + chunk);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(before + (chunk - stream.avail_out));
    if (out.size() > max_bytes) {
      inflateEnd(&stream);
      return make_error(Errc::kTooLarge,
                        fmt::format("decompressed body is over the limit of {} bytes "
                                    "(server.max_body_bytes)",
                                    max_bytes));
    }
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK || (stream.avail_in == 0 && stream.avail_out != 0)) {
      inflateEnd(&stream);
      return make_error(
          Errc::kInvalidInput,
          fmt::format("the body is not valid {} data (byte {} of the compressed body)", encoding,
                      stream.total_in));
    }
  }
  inflateEnd(&stream);
  return out;
}

}  // namespace

Result<std::string> decompress_body(std::string_view encoding, std::string_view body,
                                    std::uint64_t max_bytes) {
  if (encoding == "gzip" || encoding == "x-gzip") {
    return inflate_with(15 + 32, body, max_bytes, encoding);
  }
  if (encoding == "deflate") {
    auto zlib = inflate_with(15 + 32, body, max_bytes, encoding);
    if (zlib || zlib.error().code != Errc::kInvalidInput) return zlib;
    return inflate_with(-15, body, max_bytes, encoding);  // raw deflate
  }
  if (encoding.empty() || encoding == "identity") return std::string(body);
  return make_error(Errc::kUnsupported,
                    fmt::format("Content-Encoding \"{}\" is not supported; use gzip, deflate or "
                                "none",
                                encoding));
}

}  // namespace sluice::collector
