#include "expr/expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::expr {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

const json::value kEvent = json::parse(R"({
  "type": "TEMP", "value": 93, "reading": "ALERT:90", "ratio": 0.5, "city": "NYC",
  "severity": "critical", "tags": ["a", "b"], "user": {"id": 42, "country": "NO"},
  "page": "/docs/intro", "price": 2.5, "quantity": 4, "test": null, "odd-name": "x",
  "big": 9223372036854775807, "flag": true
})");

bool check(std::string_view text) {
  auto e = Expression::parse(text);
  EXPECT_TRUE(e) << text << ": " << e.error().message;
  return e && e.value().matches(kEvent);
}

json::value value_of(std::string_view text) {
  auto e = Expression::parse(text);
  EXPECT_TRUE(e) << text << ": " << e.error().message;
  return e ? e.value().evaluate(kEvent) : json::value();
}

std::string error_of(std::string_view text) {
  auto e = Expression::parse(text);
  EXPECT_FALSE(e) << text;
  return e ? "" : e.error().message;
}

TEST(Expression, ComparisonsAndLogic) {
  EXPECT_TRUE(check(R"(type == "TEMP" && value > 90)"));
  EXPECT_FALSE(check(R"(type == "TEMP" && value > 93)"));
  EXPECT_TRUE(check(R"(type == 'TEMP' and value >= 93 and not (city != "NYC"))"));
  EXPECT_TRUE(check(R"(value < 10 || city == "NYC")"));
  EXPECT_TRUE(check("ratio <= 0.5 and ratio >= 0.5 and ratio != 1"));
  EXPECT_TRUE(check("value == 93.0"));  // numbers compare by value
  EXPECT_TRUE(check("!flag == false"));
  EXPECT_TRUE(check(R"(city < "Oslo")"));  // text orders lexicographically
}

TEST(Expression, MissingFieldsAndMixedTypesAreNeverTrue) {
  EXPECT_FALSE(check("nope > 1"));
  EXPECT_FALSE(check("nope < 1"));
  EXPECT_TRUE(check("nope == null"));
  EXPECT_FALSE(check(R"(reading > 90)"));  // "ALERT:90" is text, not a number
  EXPECT_FALSE(check(R"(reading < 90)"));
  EXPECT_FALSE(check(R"(value == "93")"));
  EXPECT_TRUE(check(R"(not (reading > 90))"));
  EXPECT_EQ(value_of("city + 1"), json::value(nullptr));
}

TEST(Expression, InContainsExistsMatches) {
  EXPECT_TRUE(check(R"(severity in ["high", "critical"])"));
  EXPECT_FALSE(check(R"(severity in ["low"])"));
  EXPECT_TRUE(check("value in [1, 93.0]"));
  EXPECT_TRUE(check(R"(city in [lower("nyc"), upper("nyc")])"));  // built per event
  EXPECT_TRUE(check(R"(tags contains "b")"));
  EXPECT_TRUE(check(R"(reading contains "ALERT")"));
  EXPECT_FALSE(check(R"(value contains "9")"));
  EXPECT_TRUE(check("exists(user.id) and not exists(test) and not exists(nope)"));
  EXPECT_TRUE(check(R"(page matches "^/docs/")"));
  EXPECT_TRUE(check(R"(reading =~ "ALERT:\d+")"));
  EXPECT_FALSE(check(R"(value matches "9")"));  // only text matches
}

TEST(Expression, PathsIntoObjectsAndArrays) {
  EXPECT_TRUE(check(R"(user.country == "NO" and user.id == 42)"));
  EXPECT_TRUE(check(R"(tags[1] == "b" and tags[5] == null)"));
  EXPECT_TRUE(check(R"($["odd-name"] == "x" and user["country"] == "NO")"));
  EXPECT_TRUE(check("$.value == value"));
}

TEST(Expression, ArithmeticAndFunctions) {
  EXPECT_EQ(value_of("price * quantity"), json::value(10.0));
  EXPECT_EQ(value_of("quantity * 3 + 1"), json::value(13));
  EXPECT_EQ(value_of("-(quantity - 10) % 4"), json::value(2));
  EXPECT_EQ(value_of("quantity / 8"), json::value(0.5));
  EXPECT_EQ(value_of("quantity / 0"), json::value(nullptr));
  EXPECT_EQ(value_of("big + 1"), json::value(9223372036854775808.0));  // no wrap-around
  // Beyond a double's range, and text that from_chars reads as infinity or NaN: null.
  EXPECT_EQ(value_of("price * 1e300 * 1e300"), json::value(nullptr));
  EXPECT_EQ(value_of("-price * 1e300 * 1e300 < 0"), json::value(nullptr));
  EXPECT_EQ(value_of(R"(number("inf"))"), json::value(nullptr));
  EXPECT_EQ(value_of(R"(number("nan"))"), json::value(nullptr));
  EXPECT_EQ(value_of(R"(number("1e400"))"), json::value(nullptr));
  EXPECT_TRUE(check("price * quantity >= 10"));
  EXPECT_EQ(value_of(R"(lower(city))"), json::value("nyc"));
  EXPECT_EQ(value_of(R"(len(tags) + len("héllo"))"), json::value(7));
  EXPECT_EQ(value_of(R"(number("42") + number("0.5"))"), json::value(42.5));
  EXPECT_EQ(value_of(R"(number(substr))"), json::value(nullptr));
  EXPECT_EQ(value_of("string(value)"), json::value("93"));
  EXPECT_TRUE(check(R"(number(reading) == null)"));
}

// Filters come from URLs too (GET /v1/tail?filter=): no text may run the stack out, in
// parsing or evaluation.
TEST(Expression, NestingAndDepthAreBounded) {
  const std::string deep_parens = std::string(10000, '(') + "1" + std::string(10000, ')');
  EXPECT_THAT(error_of(deep_parens), HasSubstr("nests deeper than 64 levels"));
  EXPECT_THAT(error_of(std::string(10000, '[') + std::string(10000, ']')),
              HasSubstr("nests deeper than 64 levels"));
  EXPECT_THAT(error_of(std::string(10000, '-') + "1"), HasSubstr("nests deeper than 64 levels"));
  std::string nots;
  for (int i = 0; i < 5000; ++i)
    nots += "not ";
  EXPECT_THAT(error_of(nots + "true"), HasSubstr("nests deeper than 64 levels"));
  std::string calls;
  for (int i = 0; i < 5000; ++i)
    calls += "len(";
  EXPECT_THAT(error_of(calls + "x" + std::string(5000, ')')),
              HasSubstr("nests deeper than 64 levels"));
  std::string chain = "value";
  for (int i = 0; i < 5000; ++i)
    chain += " + 1";
  EXPECT_THAT(error_of(chain), HasSubstr("over 256 operators deep"));

  // At the limits, it parses and evaluates.
  EXPECT_EQ(value_of(std::string(60, '(') + "quantity" + std::string(60, ')')), json::value(4));
  std::string sum = "quantity";
  for (int i = 0; i < 200; ++i)
    sum += " + 1";
  EXPECT_EQ(value_of(sum), json::value(204));
}

TEST(Expression, NamesTheFieldsItReads) {
  auto e =
      Expression::parse(R"(p95 > 90 && exists(user.id) && city in ["a", "b"] && len(tags[0]) > 1)");
  ASSERT_TRUE(e);
  EXPECT_EQ(e.value().fields(), (std::set<std::string>{"city", "p95", "tags", "user"}));
}

TEST(Expression, ErrorsPointAtTheColumn) {
  EXPECT_EQ(error_of("value >"),
            "column 8: expected a value, a field or '(' but found end of expression");
  EXPECT_EQ(error_of("type = \"TEMP\""), "column 6: '=' is not an operator; compare with '=='");
  EXPECT_EQ(error_of("value => 90"), "column 7: '=>' is not an operator; write '>='");
  EXPECT_EQ(error_of("value =< 90"), "column 7: '=<' is not an operator; write '<='");
  EXPECT_EQ(error_of("(value > 1"), "column 11: expected ')' but found end of expression");
  EXPECT_EQ(error_of("value > 1 city"), "column 11: unexpected 'city'");
  EXPECT_EQ(error_of("page matches \"(\""), "column 14: invalid regular expression: missing ): (");
  EXPECT_EQ(error_of("page matches other"),
            "column 14: the pattern after matches must be quoted text, such as \"^/docs/\"");
  EXPECT_THAT(error_of("city == 'NYC"),
              HasSubstr("column 9: text that starts here has no closing '"));
  EXPECT_THAT(error_of("a # b"), HasSubstr("column 3: unexpected character '#'"));
  EXPECT_THAT(error_of("tags[x]"), HasSubstr("column 6: expected a quoted field name or an index"));
  EXPECT_THAT(error_of("exists(1)"), HasSubstr("column 8: expected a field name"));
  EXPECT_THAT(error_of("and"), HasSubstr("column 1: unexpected 'and'"));
}

TEST(Expression, NonObjectsHaveNoFields) {
  auto e = Expression::parse("a == null and not exists(a)");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e.value().matches(json::value(42)));
  EXPECT_EQ(e.value().text(), "a == null and not exists(a)");
}

}  // namespace
}  // namespace sluice::expr
