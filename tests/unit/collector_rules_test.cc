// Sanitisation, privacy helpers and rate limiting used by the collector.
#include <gtest/gtest.h>

#include "http/rate_limiter.h"
#include "sources/http/bots.h"
#include "sources/http/privacy.h"
#include "sources/http/sanitize.h"

namespace sluice::collector {
namespace {

using http::RateLimiter;

TEST(Bots, KnownAgentsAreNamedBrowsersAreNot) {
  EXPECT_EQ(bot_marker("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            "googlebot");
  EXPECT_EQ(bot_marker("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "HeadlessChrome/120.0.0.0 Safari/537.36"),
            "headlesschrome");
  EXPECT_EQ(bot_marker("curl/7.88.1"), "curl/");
  EXPECT_EQ(bot_marker("python-requests/2.31"), "python-requests");
  EXPECT_EQ(bot_marker("SomeNewCrawler/1.0"), "crawl");
  EXPECT_EQ(bot_marker(""), "no user agent");
  EXPECT_EQ(bot_marker("   "), "no user agent");
  EXPECT_EQ(bot_marker("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                       "Gecko) Chrome/120.0.0.0 Safari/537.36"),
            std::nullopt);
  EXPECT_EQ(
      bot_marker("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
      std::nullopt);
  // The site's own markers, any case.
  EXPECT_EQ(bot_marker("Mozilla/5.0 Chrome/120 InternalMonitor/3", {"internalMONITOR"}),
            "internalmonitor");
  EXPECT_EQ(bot_marker("Mozilla/5.0 Chrome/120", {"internalmonitor"}), std::nullopt);
}

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
