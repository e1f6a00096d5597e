#include "sources/http/decompress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

namespace sluice::collector {
namespace {

using ::testing::HasSubstr;

// window_bits: 31 gzip, 15 zlib, -15 raw deflate.
std::string compress(const std::string& text, int window_bits) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, text.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TEST(Decompress, GzipZlibAndRawDeflate) {
  const std::string text = R"([{"type":"TEMP","value":91},{"type":"TEMP","value":92}])";
  EXPECT_EQ(decompress_body("gzip", compress(text, 31), 1 << 20).value(), text);
  EXPECT_EQ(decompress_body("x-gzip", compress(text, 31), 1 << 20).value(), text);
  EXPECT_EQ(decompress_body("deflate", compress(text, 15), 1 << 20).value(), text);
  EXPECT_EQ(decompress_body("deflate", compress(text, -15), 1 << 20).value(), text);
  EXPECT_EQ(decompress_body("identity", text, 1 << 20).value(), text);
}

TEST(Decompress, ABombIsCutOffAtTheLimit) {
  const std::string zeros(64 << 20, '0');  // 64 MiB compresses to about 64 KiB
  const std::string bomb = compress(zeros, 31);
  ASSERT_LT(bomb.size(), 200u << 10);
  auto r = decompress_body("gzip", bomb, 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTooLarge);
  EXPECT_THAT(r.error().message, HasSubstr("over the limit of 1048576 bytes"));
}

TEST(Decompress, DamagedAndUnsupportedInput) {
  std::string damaged = compress(std::string(1000, 'a') + "xyz", 31);
  damaged.resize(damaged.size() / 2);
  auto truncated = decompress_body("gzip", damaged, 1 << 20);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code, Errc::kInvalidInput);
  auto garbage = decompress_body("gzip", "definitely not gzip", 1 << 20);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, Errc::kInvalidInput);
  auto brotli = decompress_body("br", "x", 1 << 20);
  ASSERT_FALSE(brotli);
  EXPECT_EQ(brotli.error().code, Errc::kUnsupported);
  EXPECT_THAT(brotli.error().message, HasSubstr("\"br\" is not supported"));
}

}  // namespace
}  // namespace sluice::collector
