// The official JSON-Schema-Test-Suite (Debian package json-schema-test-suite), draft 7, for
// every keyword and format the collector documents as supported.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "validation/json_schema.h"

namespace sluice::validation {
namespace {

namespace json = boost::json;

const std::string kSuite = "/usr/share/json-schema-test-suite/tests/draft7/";

class SuiteFile : public ::testing::TestWithParam<std::string> {};

TEST_P(SuiteFile, EveryCasePasses) {
  std::ifstream in(kSuite + GetParam());
  ASSERT_TRUE(in) << "missing " << kSuite + GetParam() << " (scripts/setup installs it)";
  std::stringstream text;
  text << in.rdbuf();
  const json::value groups = json::parse(text.str());
  int cases = 0;
  for (const auto& group : groups.as_array()) {
    const auto& description = group.at("description").as_string();
    auto compiled = JsonSchema::compile(json::serialize(group.at("schema")));
    ASSERT_TRUE(compiled) << description << ": " << compiled.error().message;
    for (const auto& test : group.at("tests").as_array()) {
      const bool expected = test.at("valid").as_bool();
      auto error = compiled.value()->validate(test.at("data"));
      EXPECT_EQ(!error.has_value(), expected)
          << GetParam() << " / " << description << " / " << test.at("description").as_string()
          << (error ? ": " + *error : std::string());
      ++cases;
    }
  }
  EXPECT_GT(cases, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Draft7, SuiteFile,
    ::testing::Values("type.json", "required.json", "properties.json", "additionalProperties.json",
                      "enum.json", "const.json", "minimum.json", "maximum.json", "minLength.json",
                      "maxLength.json", "pattern.json", "items.json", "maxItems.json",
                      "patternProperties.json", "propertyNames.json", "allOf.json", "anyOf.json",
                      "oneOf.json", "not.json", "if-then-else.json", "dependencies.json",
                      "optional/format/email.json", "optional/format/uri.json",
                      "optional/format/date-time.json", "optional/format/date.json",
                      "optional/format/time.json"),
    [](const auto& info) {
      std::string name = info.param.substr(info.param.rfind('/') + 1);
      name = name.substr(0, name.find('.'));
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

// Draft 7: "integer" is any number with a zero fractional part. (The Debian suite predates the
// test case that says so.)
TEST(JsonSchema, ANumberWithAZeroFractionalPartIsAnInteger) {
  auto schema = JsonSchema::compile(
      R"({"type":"object","properties":{"n":{"type":"integer","minimum":2},
          "list":{"type":"array","items":{"type":"integer"}},"one":{"const":1}}})");
  ASSERT_TRUE(schema);
  EXPECT_FALSE(schema.value()->validate(json::parse(R"({"n":3.0})")));
  EXPECT_FALSE(schema.value()->validate(json::parse(R"({"n":1e18, "list":[1.0, -2e3]})")));
  EXPECT_FALSE(schema.value()->validate(json::parse(R"({"one":1.0})")));
  auto fraction = schema.value()->validate(json::parse(R"({"n":3.5})"));
  ASSERT_TRUE(fraction);
  EXPECT_EQ(*fraction, "field \"n\": expected integer, got number 3.5");
  auto small = schema.value()->validate(json::parse(R"({"n":1.0})"));
  ASSERT_TRUE(small);
  EXPECT_EQ(*small, "field \"n\": expected number greater than or equal to 2");
  EXPECT_TRUE(schema.value()->validate(json::parse(R"({"list":[1, 0.5]})")));
}

// Every failure of an event, each once, with what was expected and what came, up to a cap.
TEST(JsonSchema, ErrorsListEachFailureWithExpectedAndGot) {
  auto schema = JsonSchema::compile(
      R"({"type":"object","required":["device"],"properties":{"temp":{"type":"number"},
          "unit":{"type":["string","null"]},"tags":{"type":"array","items":{"type":"string"}},
          "n":{"maximum":10}}})");
  ASSERT_TRUE(schema);
  auto error = schema.value()->validate(json::parse(R"({"device":"d","temp":"hot"})"));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"temp\": expected number, got string \"hot\"");
  error = schema.value()->validate(
      json::parse(R"({"temp":true,"unit":5,"tags":["a",{"b":1}],"n":11})"));
  ASSERT_TRUE(error);
  for (const char* part : {"the event: missing required property 'device'",
                           "field \"temp\": expected number, got "
                           "boolean true",
                           "field \"unit\": expected string or null, got integer 5",
                           "field \"tags[1]\": expected string, got object",
                           "field \"n\": expected number less "
                           "than or equal to 10"}) {
    EXPECT_NE(error->find(part), std::string::npos) << part << " in " << *error;
  }
  std::string many = R"({"device":"d")";
  std::string properties;
  for (int i = 0; i < 9; ++i) {
    many += fmt::format(R"(,"f{}":"x")", i);
    properties += fmt::format(R"({}"f{}":{{"type":"number"}})", i ? "," : "", i);
  }
  auto strict = JsonSchema::compile(R"({"properties":{)" + properties + "}}");
  ASSERT_TRUE(strict);
  error = strict.value()->validate(json::parse(many + "}"));
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("; and 4 more"), std::string::npos) << *error;
  EXPECT_EQ(std::count(error->begin(), error->end(), ';'), 5) << *error;

  // Twenty thousand failures are described in one pass (this ended in a quadratic scan).
  auto numbers = JsonSchema::compile(R"({"additionalProperties":{"type":"number"}})");
  ASSERT_TRUE(numbers);
  json::object wide;
  for (int i = 0; i < 20'000; ++i)
    wide[fmt::format("f{}", i)] = "x";
  error = numbers.value()->validate(wide);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("; and 19995 more"), std::string::npos) << error->substr(0, 300);
}

TEST(JsonSchema, ErrorsNameTheFieldAndTheLimit) {
  auto schema = JsonSchema::compile(
      R"({"type":"object","properties":{"tags":{"type":"array","maxItems":2,
          "items":{"type":"string","maxLength":3}},"site":{"format":"uri"}}})");
  ASSERT_TRUE(schema);
  auto error = schema.value()->validate(json::parse(R"({"tags":["a","long"]})"));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"tags[1]\": string should be no more than 3 characters in length");
  error = schema.value()->validate(json::parse(R"({"tags":["a","b","c"]})"));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"tags\": array should contain no more than 2 elements");
  error = schema.value()->validate(json::parse(R"({"site":"not a uri"})"));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"site\": is not a valid absolute URI");
  EXPECT_FALSE(JsonSchema::compile("{nope"));
  EXPECT_FALSE(JsonSchema::compile("[1]"));
}

// valijson matched `pattern` and `format` with std::regex, which recursed once per character:
// a string of 100 000 characters ended the process. Each check here is linear and flat.
TEST(JsonSchema, LongValuesAreCheckedWithoutRecursion) {
  auto schema = JsonSchema::compile(
      R"({"type":"object","properties":{"device":{"type":"string","pattern":"^sensor-[0-9]+$"},
          "at":{"type":"string","format":"date-time"},"day":{"format":"date"},
          "tags":{"type":"array","items":{"anyOf":[{"pattern":"^[a-z]+$"},{"type":"null"}]}}}})");
  ASSERT_TRUE(schema);
  const std::string digits(1'000'000, '7');
  EXPECT_FALSE(schema.value()->validate(json::value{{"device", "sensor-" + digits}}));
  auto error = schema.value()->validate(json::value{{"device", "sensor-" + digits + "x"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"device\": does not match the pattern \"^sensor-[0-9]+$\"");
  error = schema.value()->validate(json::value{{"at", digits + "-01-01T00:00:00Z"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"at\": is not a valid date-time (RFC 3339)");
  error = schema.value()->validate(json::value{{"day", "2023-02-29"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "field \"day\": is not a valid date (RFC 3339)");
  EXPECT_FALSE(schema.value()->validate(json::value{{"day", "2024-02-29"}}));
  EXPECT_FALSE(schema.value()->validate(json::parse(R"({"tags":["abc",null]})")));
  EXPECT_FALSE(
      schema.value()->validate(json::value{{"tags", json::array{std::string(500'000, 'q')}}}));
  EXPECT_TRUE(schema.value()->validate(json::value{{"tags", json::array{digits}}}));
}

// A property called "pattern" or "format" is a property, not a keyword.
TEST(JsonSchema, PropertiesNamedLikeKeywordsStayProperties) {
  auto schema = JsonSchema::compile(
      R"({"properties":{"pattern":{"type":"string"},"format":{"type":"integer"}},
          "required":["pattern"],"const":{"format":"x"}})");
  ASSERT_TRUE(schema);
  auto error = schema.value()->validate(json::parse(R"({"pattern":"a","format":"b"})"));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error,
            "the event: failed to match expected value set by 'const' constraint; field "
            "\"format\": expected integer, got string \"b\"");
}

// Patterns RE2 cannot run in linear time are refused when the schema is compiled.
TEST(JsonSchema, PatternsWithBackreferencesAreRefusedAtCompile) {
  auto refused = JsonSchema::compile(R"({"properties":{"a":{"pattern":"(x)\\1"}}})");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("#/properties/a/pattern"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("RE2"), std::string::npos);
}

// patternProperties is matched by valijson's std::regex: field names are bounded first.
TEST(JsonSchema, LongFieldNamesAreRefusedWherePatternPropertiesApply) {
  auto schema = JsonSchema::compile(R"({"patternProperties":{"^x_":{"type":"integer"}}})");
  ASSERT_TRUE(schema);
  EXPECT_FALSE(schema.value()->validate(json::parse(R"({"x_a":1,"b":"c"})")));
  EXPECT_TRUE(schema.value()->validate(json::parse(R"({"x_a":"no"})")));
  auto error = schema.value()->validate(json::value{{"x_" + std::string(200'000, 'a'), 1}});
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("at most 1024 bytes"), std::string::npos) << *error;
}

}  // namespace
}  // namespace sluice::validation
