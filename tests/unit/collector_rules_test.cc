// Sanitisation, privacy helpers and rate limiting used by the collector.
#include <gtest/gtest.h>

#include "http/rate_limiter.h"
#include "sources/http/privacy.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

using http::RateLimiter;

TEST(Sanitize, CleansText) {
  EXPECT_EQ(clean_text("  a \t\n b  "), "a b");
  EXPECT_EQ(clean_text("x\x01y\x7fz"), "xyz");
  EXPECT_EQ(clean_text("c1\xc2\x85!"), "c1!");          // U+0085 is a C1 control
  EXPECT_EQ(clean_text("caf\xc3\xa9"), "caf\xc3\xa9");  // other characters stay
  EXPECT_EQ(clean_text(" \n "), "");
  EXPECT_EQ(lower_ascii("Ann@Example.COM"), "ann@example.com");
  EXPECT_EQ(utf8_length("caf\xc3\xa9"), 4u);
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9"));
  EXPECT_FALSE(valid_utf8("caf\xc3"));
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // a UTF-16 surrogate
}

TEST(Privacy, AnonymizesAddresses) {
  EXPECT_EQ(anonymize_ip("203.0.113.77"), "203.0.113.0");
  EXPECT_EQ(anonymize_ip("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"), "2001:db8:aaaa::");
  EXPECT_EQ(anonymize_ip("::1"), "::");
  EXPECT_FALSE(anonymize_ip("localhost"));
  EXPECT_FALSE(anonymize_ip("1.2.3.4.5"));
}

TEST(Privacy, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(RateLimiter, RefillsAtTheRateAndSaysWhenToRetry) {
  RateLimiter limiter(2, 3);  // 2/s, bucket of 5
  const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(limiter.take("a", t0), 0) << i;
  EXPECT_EQ(limiter.take("a", t0), 1);
  EXPECT_EQ(limiter.take("b", t0), 0) << "clients have their own buckets";
  EXPECT_EQ(limiter.take("a", t0 + std::chrono::milliseconds(499)), 1);
  EXPECT_EQ(limiter.take("a", t0 + std::chrono::milliseconds(1000)), 0);
  RateLimiter slow(0.1, 0);
  EXPECT_EQ(slow.take("c", t0), 0);
  EXPECT_EQ(slow.take("c", t0), 10);
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(off.take("a", t0), 0);
}

}  // namespace
}  // namespace sluice::collector
