#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <cstdlib>
#include <random>
#include <regex>
#include <set>

#include "core/crc32c.h"
#include "core/event.h"
#include "core/json_text.h"
#include "core/json_write.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/uuid.h"

namespace sluice {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_portable("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, FastPathEqualsPortableOnRandomData) {
  std::mt19937 random(7);
  for (std::size_t size : {1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4097u}) {
    std::string data(size, '\0');
    for (auto& c : data)
      c = static_cast<char>(random());
    EXPECT_EQ(crc32c(data), crc32c_portable(data)) << size;
    // Continuing a checksum equals checksumming the whole.
    auto half = data.size() / 2;
    EXPECT_EQ(crc32c(data.substr(half), crc32c(data.substr(0, half))), crc32c(data)) << size;
  }
}

TEST(Time, ParsesIso8601Forms) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T11:30:00Z"), 1760355000000);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T11:30:00.123Z"), 1760355000123);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T11:30:00.123456Z"), 1760355000123);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T11:30:00.5Z"), 1760355000500);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T13:30:00+02:00"), 1760355000000);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T06:30:00-0500"), 1760355000000);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13T11:30:00"), 1760355000000);
  EXPECT_EQ(parse_iso8601_ms("2025-10-13"), 1760313600000);
}

TEST(Time, RejectsInvalidTimes) {
  for (const char* bad :
       {"", "yesterday", "2025-13-01T00:00:00Z", "2025-02-30", "2025-10-13T25:00Z",
        "2025-10-13T11:30:00Zjunk", "2025-10-13T11", "2025-10-13T11:30:00."}) {
    EXPECT_FALSE(parse_iso8601_ms(bad).has_value()) << bad;
  }
}

TEST(Time, EpochNumbersInSecondsOrMilliseconds) {
  EXPECT_EQ(epoch_number_to_ms(1760355000), 1760355000000);
  EXPECT_EQ(epoch_number_to_ms(1760355000.25), 1760355000250);
  EXPECT_EQ(epoch_number_to_ms(1760355000123.0), 1760355000123);
  EXPECT_FALSE(epoch_number_to_ms(-1).has_value());
  EXPECT_EQ(parse_time_text("1760355000123"), 1760355000123);
  EXPECT_EQ(parse_time_text("2025-10-13T11:30:00Z"), 1760355000000);
}

TEST(Time, FormatsAndRoundTrips) {
  EXPECT_EQ(format_iso8601_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(1760355000123), "2025-10-13T11:30:00.123Z");
  for (std::int64_t ms : {1LL, 951782400000LL, 4102444799999LL}) {
    EXPECT_EQ(parse_iso8601_ms(format_iso8601_ms(ms)), ms);
  }
}

TEST(Uuid, IsVersion7WithTheTimestampFirst) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  auto id = uuid_v7(1760355000123);
  EXPECT_TRUE(std::regex_match(id, shape)) << id;
  EXPECT_EQ(id.substr(0, 13), "0199dd55-9f3b");  // 1760355000123 = 0x199dd559f3b
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i)
    seen.insert(uuid_v7(1760355000123));
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(JsonText, EscapesWhatJsonRequires) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\nd\x01\te", 10));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\\te\"");
  out.clear();
  append_json_string(out, "héllo");
  EXPECT_EQ(out, "\"héllo\"");
}

// The shortest decimal that reads back the same, without exponents in the usual range.
TEST(JsonWrite, NumbersAsAPersonWritesThem) {
  auto text = [](double d) {
    std::string out;
    append_json_number(out, d);
    return out;
  };
  EXPECT_EQ(text(98.50457626879135), "98.50457626879135");
  EXPECT_EQ(text(0.1), "0.1");
  EXPECT_EQ(text(3.0), "3");
  EXPECT_EQ(text(-2.5), "-2.5");
  EXPECT_EQ(text(1e20), "100000000000000000000");
  EXPECT_EQ(text(0.0000001), "0.0000001");
  EXPECT_EQ(text(1e21), "1e+21");
  EXPECT_EQ(text(1e-8), "1e-08");
  EXPECT_EQ(text(std::nan("")), "null");
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> any(-1e6, 1e6);
  for (int i = 0; i < 10'000; ++i) {
    const double d = any(random);
    EXPECT_EQ(std::strtod(text(d).c_str(), nullptr), d);
  }
  const auto value =
      boost::json::parse(R"({"a":[1,-2,9.850457626879135E1,"x\n",true,null],"b":{}})");
  EXPECT_EQ(json_text(value), R"({"a":[1,-2,98.50457626879135,"x\n",true,null],"b":{}})");
}

TEST(Event, EncodesAndDecodes) {
  EventView e{.id = "abc",
              .ts_ms = 5,
              .received_at_ms = 7,
              .key = "k",
              .type = std::nullopt,
              .payload = R"({"a": 1})"};
  std::string record;
  encode_event(e, record);
  auto back = decode_event(record);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, "abc");
  EXPECT_EQ(back->ts_ms, 5);
  EXPECT_EQ(back->received_at_ms, 7);
  EXPECT_EQ(back->key, std::optional<std::string_view>("k"));
  EXPECT_FALSE(back->type);
  EXPECT_EQ(back->payload, R"({"a": 1})");
  for (std::size_t cut = 0; cut < record.size(); ++cut) {
    EXPECT_FALSE(decode_event(std::string_view(record).substr(0, cut))) << cut;
  }
}

// Slack-style webhook URLs carry their secret in the path; DSNs carry passwords.
TEST(Redact, UrlsKeepOnlySchemeHostAndPort) {
  EXPECT_EQ(redact_url("https://hooks.slack.com/services/T000/B000/XXXXsecret"),
            "https://hooks.slack.com/…");
  EXPECT_EQ(redact_url("postgresql://app:pa55@db.internal:5432/sluice?sslmode=require"),
            "postgresql://db.internal:5432/…");
  EXPECT_EQ(redact_url("http://127.0.0.1:9/"), "http://127.0.0.1:9");
  EXPECT_EQ(redact_url("http://h?token=abc"), "http://h/…");
  EXPECT_EQ(redact_url("not a url"), "not a url");
  const std::string text = redact_urls(
      "https://hooks.slack.com/services/T1/B2/s3cr3t: connection refused; then "
      "\"http://u:pw@h:8/x?sig=1\" answered 500: see https://h2/a/b");
  EXPECT_EQ(text,
            "https://hooks.slack.com/…: connection refused; then \"http://h:8/…\" answered 500: "
            "see https://h2/…");
  EXPECT_EQ(redact_urls("no urls :// here"), "no urls :// here");
}

}  // namespace
}  // namespace sluice
