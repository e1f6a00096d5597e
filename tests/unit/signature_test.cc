// Signed requests (src/core/signature.cc): what a sender computes, what a receiver accepts.

#include "core/signature.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::signature {
namespace {

const std::string kSecret = "0123456789abcdef-secret";

// Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac SECRET
TEST(Signature, IsTheHmacOfTheTimeAndTheBody) {
  EXPECT_EQ(sign(kSecret, 1700000000, R"({"a":1})"),
            "t=1700000000,v1=6948a2dc6985c92d09b9edade5c97dce2ba201452d91a72e4a20d35abe4d3420");
}

TEST(Signature, MatchesOnlyTheSameBodyTimeAndSecret) {
  const std::string body = R"([{"id":"x"}])";
  auto parsed = parse(sign(kSecret, 1700000000, body));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->unix_seconds, 1700000000);
  EXPECT_TRUE(matches(*parsed, {kSecret}, body));
  EXPECT_FALSE(matches(*parsed, {kSecret}, R"([{"id":"y"}])"));
  EXPECT_FALSE(matches(*parsed, {"another-secret-of-16"}, body));
  EXPECT_FALSE(matches(*parsed, {}, body));
  // The time is part of what is signed: moving it forward breaks the signature.
  auto moved = *parsed;
  moved.unix_seconds += 1;
  EXPECT_FALSE(matches(moved, {kSecret}, body));
  // Rotation: any of the configured secrets.
  EXPECT_TRUE(matches(*parsed, {"the-new-secret-000", kSecret}, body));
}

TEST(Signature, ParsesSeveralDigestsAndUpperCaseHex) {
  const std::string body = "{}";
  const std::string good = sign(kSecret, 5, body);
  const std::string digest = good.substr(good.find("v1=") + 3);
  std::string upper = digest;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto parsed = parse("t=5, v1=" + std::string(64, '0') + ",v1=" + upper + ",v0=ignored");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->digests.size(), 2u);
  EXPECT_TRUE(matches(*parsed, {kSecret}, body));
}

TEST(Signature, RefusesMalformedHeaders) {
  const std::string hex(64, 'a');
  const std::vector<std::string> headers = {"",
                                            "v1=" + hex,
                                            "t=5",
                                            "t=5,v1=" + hex.substr(1),
                                            "t=5,v1=" + hex + "a",
                                            "t=-5,v1=" + hex,
                                            "t=x,v1=" + hex,
                                            "t=5,v1=" + std::string(63, 'a') + "g",
                                            "t=5,v1",
                                            "t=99999999999999999999999,v1=" + hex};
  for (const auto& header : headers) {
    EXPECT_FALSE(parse(header)) << header;
  }
  std::string many = "t=5";
  for (int i = 0; i < 9; ++i)
    many += ",v1=" + hex;
  EXPECT_FALSE(parse(many)) << "no bound on the digests a header may ask to compare";
}

}  // namespace
}  // namespace sluice::signature
