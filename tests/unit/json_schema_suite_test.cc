// The official JSON-Schema-Test-Suite (Debian package json-schema-test-suite), draft 7, for
// every keyword and format the collector documents as supported.
#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(Draft7, SuiteFile,
                         ::testing::Values("type.json", "required.json", "properties.json",
                                           "additionalProperties.json", "enum.json", "const.json",
                                           "minimum.json", "maximum.json", "minLength.json",
                                           "maxLength.json", "pattern.json", "items.json",
                                           "maxItems.json", "optional/format/email.json",
                                           "optional/format/uri.json",
                                           "optional/format/date-time.json"),
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
  EXPECT_EQ(*fraction, "field \"n\": value type not permitted by 'type' constraint");
  auto small = schema.value()->validate(json::parse(R"({"n":1.0})"));
  ASSERT_TRUE(small);
  EXPECT_EQ(*small, "field \"n\": expected number greater than or equal to 2");
  EXPECT_TRUE(schema.value()->validate(json::parse(R"({"list":[1, 0.5]})")));
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

}  // namespace
}  // namespace sluice::validation
