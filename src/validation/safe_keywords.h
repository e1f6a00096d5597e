#pragma once
// The JSON Schema keywords Sluice checks itself rather than through valijson: `pattern` (with
// RE2, whose matching time is linear in the value and whose stack use does not grow with it)
// and `format` (validation/formats.h, no regular expressions). valijson 1.0 runs both with
// std::regex, which recurses once per character: one 100 000-character string in an event was
// enough to end the process.
//
// compile() in json_schema.cc rewrites a schema with with_safe_keywords() before valijson reads
// it, and registers add_safe_keyword_builders() with its parser: each `pattern` and `format` in
// a schema position becomes a keyword valijson does not know, which the builders turn into
// constraints that valijson calls in their place, in the same context (inside anyOf, not,
// if/then/else, items, ...).

#include <boost/json/value.hpp>
#include <string>

#include "core/result.h"

namespace valijson {
class SchemaParser;
}

namespace sluice::validation {

// The schema with its `pattern` and `format` keywords renamed to the safe ones. Refuses a
// `pattern` that RE2 cannot compile (look-around and backreferences), naming it.
Result<boost::json::value> with_safe_keywords(const boost::json::value& schema);

// Teaches the parser the renamed keywords. The parser owns the builders it is given.
void add_safe_keyword_builders(valijson::SchemaParser& parser);

// True when the schema uses `patternProperties` anywhere: valijson matches those patterns
// against property names with std::regex, so property names are bounded (kMaxPatternedName).
bool uses_pattern_properties(const boost::json::value& schema);
constexpr std::size_t kMaxPatternedName = 1024;

}  // namespace sluice::validation
