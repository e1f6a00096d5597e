// Fuzzes JSON Schema validation: the input is a schema and an event, separated by the first
// NUL byte (an input without one is an event checked against a fixed schema that uses every
// keyword Sluice checks itself). Compiling may refuse the schema; validating must answer for
// any event, in time linear in its size (libFuzzer's -timeout catches a regex that backtracks
// or recurses per character, as std::regex did). Schemas with patternProperties are skipped:
// valijson matches those with std::regex on names bounded at 1024 bytes, and a pattern that
// backtracks exponentially on them is its author's (the operator's), not a stranger's, to avoid.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "validation/json_schema.h"

namespace {

using sluice::validation::JsonSchema;

const JsonSchema& fixed_schema() {
  static const auto schema = JsonSchema::compile(R"({
    "type": "object",
    "properties": {
      "code": {"type": "string", "pattern": "^(sensor|probe)-[0-9]+(\\.[a-z]{1,8})*$"},
      "at": {"format": "date-time"}, "day": {"format": "date"}, "t": {"format": "time"},
      "email": {"format": "email"}, "site": {"format": "uri"},
      "tags": {"type": "array", "items": {"anyOf": [{"pattern": "^[a-z]+$"}, {"type": "null"}]}},
      "n": {"type": "integer", "maximum": 100}
    },
    "patternProperties": {"^x_": {"type": "number"}},
    "propertyNames": {"pattern": "^[^$]"},
    "additionalProperties": {"not": {"format": "email"}}
  })");
  return *schema.value();
}

void validate(const JsonSchema& schema, std::string_view event_text) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  const auto event = boost::json::parse(event_text, ec, {}, options);
  if (ec) return;
  (void)schema.validate(event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  if (split == std::string_view::npos) {
    validate(fixed_schema(), input);
    return 0;
  }
  if (input.substr(0, split).find("patternProperties") != std::string_view::npos) return 0;
  auto schema = JsonSchema::compile(input.substr(0, split));
  if (!schema) return 0;
  validate(*schema.value(), input.substr(split + 1));
  return 0;
}
